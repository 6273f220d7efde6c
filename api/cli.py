"""``provledger``: the console script's command line (``python -m api`` runs it too).

Its commands are listed in :mod:`api.command_index` and built only when run
(:class:`~api.lazy_group.LazyGroup`): ``provledger hash`` imports the code of ``hash``, not of
thirty other commands. ``ledger.cli`` defines the ledger's own commands and stays free of any
dependency on ``api``.
"""

from __future__ import annotations

import typer

from api.command_index import COMMANDS, HELP
from api.lazy_group import LazyGroup


class ProvledgerGroup(LazyGroup):
    index = COMMANDS


def provledger_app(group: type[LazyGroup]) -> typer.Typer:
    """The ``provledger`` app, its commands those of ``group``'s index."""
    app = typer.Typer(
        name="provledger",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        cls=group,
    )

    @app.callback()
    def provledger() -> None:
        # Does nothing: typer builds a group (of class ``cls``) only for an app with a
        # callback or registered commands, and this app's commands come from the index.
        pass

    return app


app = provledger_app(ProvledgerGroup)

__all__ = ["app"]
