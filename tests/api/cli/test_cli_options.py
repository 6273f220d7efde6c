"""The options every client command shares are declared once and reach each command whole."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer
from typer.testing import CliRunner

from api.commands.options import ServiceOptions, WriteOptions, with_options

ItemArg = Annotated[str, typer.Argument(help="An item.")]


def test_typer_sees_the_shared_options_in_the_place_of_the_parameter_holding_them() -> None:
    @with_options
    def command(item: ItemArg, *, options: WriteOptions, extra: int = 1) -> None:
        """A command."""

    names = list(inspect.signature(command).parameters)
    assert names == ["item", "url", "token", "as_json", "wait", "timeout", "extra"]
    assert command.__name__ == "command"
    assert command.__doc__ == "A command."


def test_a_command_gets_the_options_given_on_the_command_line_as_one_value() -> None:
    received: dict[str, Any] = {}
    app = typer.Typer()

    @app.command()
    @with_options
    def command(item: ItemArg, *, options: ServiceOptions) -> None:
        received.update(item=item, options=options)

    result = CliRunner().invoke(
        app, ["thing", "--url", "http://service:1", "--token", "t", "--json"]
    )

    assert result.exit_code == 0, result.output
    assert received == {
        "item": "thing",
        "options": ServiceOptions(url="http://service:1", token="t", as_json=True),
    }
