"""``provledger`` commands that are clients of a running service (over its HTTP API)."""

from __future__ import annotations

import typer

from api.commands.access import access_app
from api.commands.bulk import service_checker
from api.commands.datasets import datasets_app, register_command
from api.commands.governance import auditor_app, dept_app, token_app
from api.commands.lineage import lineage_command
from api.commands.operations import audit_command, ops_app
from ledger.cli import use_service_checker

__all__ = ["add_client_commands"]


def add_client_commands(app: typer.Typer) -> None:
    """Register the client commands on the ``provledger`` app."""
    app.command("register")(register_command)
    use_service_checker(service_checker)
    app.command("audit")(audit_command)
    app.command("lineage")(lineage_command)
    for group in (dept_app, auditor_app, token_app, datasets_app, access_app, ops_app):
        app.add_typer(group)
