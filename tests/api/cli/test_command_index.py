"""The index ``provledger --help`` is printed from holds exactly the commands there are."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
import typer
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

import api.commands
import ledger.cli
from api.cli import ProvledgerGroup, app, provledger_app
from api.command_index import COMMANDS, HELP, Entry
from api.lazy_group import build


def _source(entry: Entry) -> typer.Typer:
    module, _, attribute = entry.source.partition(":")
    source: typer.Typer = getattr(importlib.import_module(module), attribute)
    return source


def _command_modules() -> list[object]:
    return [ledger.cli] + [
        importlib.import_module(f"api.commands.{module.name}")
        for module in pkgutil.iter_modules(api.commands.__path__)
    ]


def test_every_typer_app_the_commands_define_is_in_the_index() -> None:
    # A group added without an entry would be left out of `provledger`; so would the app of a
    # new module of top-level commands.
    indexed = {id(_source(entry)) for entry in COMMANDS}
    for module in _command_modules():
        for name, value in vars(module).items():
            if isinstance(value, typer.Typer):
                assert id(value) in indexed, f"{module.__name__}.{name} is not in the index"


def test_every_command_of_an_indexed_app_is_in_the_index_and_nothing_else() -> None:
    # A command added to an app without an entry would not be found (and vice versa).
    defined = {
        (entry.source, info.name or typer.main.get_command_name(info.callback.__name__))
        for entry in COMMANDS
        if entry.kind == "command"
        for info in _source(entry).registered_commands
        if info.callback is not None
    }
    indexed = {(entry.source, entry.name) for entry in COMMANDS if entry.kind == "command"}
    assert indexed == defined
    assert len({entry.name for entry in COMMANDS}) == len(COMMANDS)


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda entry: entry.name)
def test_each_entry_names_its_command_and_says_what_its_help_says(entry: Entry) -> None:
    command = build(entry)
    assert command.name == entry.name
    first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0]
    assert entry.summary == " ".join(first_paragraph.split())
    if entry.kind == "group":
        assert _source(entry).info.name == entry.name


def test_the_command_line_says_what_the_ledgers_own_app_says() -> None:
    assert ledger.cli.app.info.help == HELP


def test_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    for entry in COMMANDS:
        assert f" {entry.name} " in result.output
        assert entry.summary in result.output


class _TypersRendering(ProvledgerGroup):
    """The same group, its help printed by typer's own renderer from stand-in commands."""

    def get_command(self, ctx: Any, name: str) -> Any:
        return {command.name: command for command in self.listed()}.get(name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        TyperGroup.format_help(self, ctx, formatter)


def test_help_is_printed_as_typer_prints_it() -> None:
    typers = provledger_app(_TypersRendering)
    for env in ({"COLUMNS": "120"}, {"COLUMNS": "70", "FORCE_COLOR": "1"}):
        ours = CliRunner().invoke(app, ["--help"], env=env)
        theirs = CliRunner().invoke(typers, ["--help"], env=env)
        assert ours.exit_code == theirs.exit_code == 0
        assert ours.stdout == theirs.stdout
        assert ("\x1b[" in ours.stdout) == ("FORCE_COLOR" in env)  # colours compared too


def test_a_command_that_does_not_exist_is_refused_with_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["hashh", "x"])
    assert result.exit_code == 2
    assert "Did you mean 'hash'?" in result.output


def test_a_group_of_one_command_stays_a_group() -> None:
    result = CliRunner().invoke(app, ["token", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "revoke" in result.output
