"""A typer command group whose commands are imported and built only when one is asked for.

click's documented pattern for lazily loaded subcommands, on typer's group: the group knows
its commands from an index (:mod:`api.command_index`); ``--help`` lists them from it, and only
the command that runs is imported and turned into a click command by typer. The commands
themselves are ordinary typer commands and groups, in the modules the index names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import HAS_RICH, TyperCommand, TyperGroup

from api.command_index import Entry


def build(entry: Entry) -> Any:
    """The click command ``entry`` names, built by typer as ``add_typer``/``command`` would."""
    module, _, attribute = entry.source.partition(":")
    source: typer.Typer = getattr(importlib.import_module(module), attribute)
    if entry.kind == "group":
        # get_group, not get_command: a group of one command stays a group (``token revoke``).
        return typer.main.get_group(source)
    [info] = [
        info
        for info in source.registered_commands
        if info.callback is not None
        and (info.name or typer.main.get_command_name(info.callback.__name__)) == entry.name
    ]
    # Just this command, as the app registered it (name, help, settings); typer builds the
    # other commands of its app only when they run.
    alone = typer.Typer(add_completion=False)
    alone.registered_commands.append(info)
    return typer.main.get_command(alone)


class _Commands(MutableMapping[str, Any]):
    """The group's commands by name: every name in the index, each built when first looked up.

    TyperGroup keeps its commands in a dict it reads for resolving, listing and suggesting
    ("Did you mean 'hash'?"); this one has the same keys without building the values."""

    def __init__(self, index: Sequence[Entry]) -> None:
        self._entries = {entry.name: entry for entry in index}
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            self._built[name] = build(self._entries[name])
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**self._entries, **self._built})

    def __len__(self) -> int:
        return len({**self._entries, **self._built})


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands are those of :attr:`index` (set it in a subclass)."""

    index: ClassVar[Sequence[Entry]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.index)

    def listed(self) -> list[TyperCommand]:
        """Stand-ins for the commands, with their names and one-line help, to list them."""
        return [TyperCommand(entry.name, help=entry.summary) for entry in self.index]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # The plain (not rich) help, from the stand-ins: listing builds no command.
        commands = self.listed()
        limit = formatter.width - 6 - max(len(command.name or "") for command in commands)
        rows = [(command.name or "", command.get_short_help_str(limit)) for command in commands]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        if not HAS_RICH or self.rich_markup_mode is None:
            return super().format_help(ctx, formatter)
        # typer's rich help imports its whole renderer (markdown, tracebacks: ~0.1 s) and
        # builds every command to list it; this prints the same panels from the index.
        from api.group_help import print_group_help

        print_group_help(self, ctx, [(entry.name, entry.summary) for entry in self.index])
        return None
