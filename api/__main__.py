"""``python -m api`` runs the provledger command line."""

from api.cli import app

app()
