"""A command group's ``--help`` in typer's rich layout, from its commands' names and summaries.

typer prints the same panels (``typer.rich_utils``), but importing that module takes longer
than the rest of ``provledger --help`` (it brings in rich's Markdown and traceback renderers),
and it builds every command to read its help. This prints usage, help, options and commands
with only rich's console, panel and table, in typer's styles; a test holds its output equal to
typer's.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any

from rich.columns import Columns
from rich.console import Console
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

# typer.rich_utils' styles, highlighters and settings, as typer 0.29 has them.
_THEME = Theme(
    {
        "option": "bold cyan",
        "switch": "bold green",
        "negative_option": "bold magenta",
        "negative_switch": "bold red",
        "types": "bold yellow",
        "types_sep": "dim",
        "usage": "yellow",
    }
)


class _OptionHighlighter(RegexHighlighter):
    highlights = [  # noqa: RUF012 - rich's API: a class attribute
        r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        r"(?P<types>\<[^\>]+\>)",
        r"(?P<usage>Usage: )",
    ]


class _TypesHighlighter(RegexHighlighter):
    highlights = [  # noqa: RUF012 - rich's API: a class attribute
        r"^(?P<types_sep>(\[|<))",
        r"(?P<types_sep>\|)",
        r"(?P<types_sep>(\]|>))(\.\.\.)?$",
    ]


_highlight = _OptionHighlighter()
_highlight_types = _TypesHighlighter()


def _console() -> Console:
    width = os.getenv("TERMINAL_WIDTH")
    colour_asked = any(os.getenv(name) for name in ("GITHUB_ACTIONS", "FORCE_COLOR", "PY_COLORS"))
    force_terminal = True if colour_asked else None
    if os.getenv("_TYPER_FORCE_DISABLE_TERMINAL"):
        force_terminal = False
    return Console(
        theme=_THEME,
        highlighter=_highlight,
        color_system="auto",
        force_terminal=force_terminal,
        width=int(width) if width else None,
    )


def _table(**settings: Any) -> Table:
    return Table(
        show_header=False,
        expand=True,
        box=None,
        show_lines=False,
        leading=0,
        pad_edge=False,
        padding=(0, 1),
        row_styles=None,
        border_style=None,
        **settings,
    )


def _first_paragraph(text: str) -> Text:
    return _highlight(Text.from_markup(inspect.cleandoc(text).split("\n\n")[0].strip()))


def print_group_help(group: Any, ctx: Any, commands: Sequence[tuple[str, str]]) -> None:
    """Print ``group``'s help, listing ``commands`` (name, one-line help) as its commands."""
    console = _console()
    console.print(Padding(_highlight(group.get_usage(ctx)), 1), style="bold")
    if group.help:
        console.print(Padding(_first_paragraph(group.help), (0, 1, 1, 1)))
    options = _table(highlight=True)
    for param in group.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        long = [opt for opt in param.opts if "--" in opt]
        short = [opt for opt in param.opts if "--" not in opt]
        types = Text(param.display_type_rich(ctx=ctx) or "", style="bold yellow", overflow="fold")
        options.add_row(
            _highlight(",".join(long)),
            _highlight(",".join(short)),
            _highlight(""),
            _highlight(""),
            _highlight_types(types),
            Columns([_first_paragraph(param.help)] if param.help else []),
        )
    if options.row_count:
        console.print(Panel(options, border_style="dim", title="Options", title_align="left"))
    listing = _table(highlight=False)
    listing.add_column(style="bold cyan", no_wrap=True, width=max(len(n) for n, _ in commands))
    listing.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for name, summary in commands:
        listing.add_row(Text(name), _first_paragraph(summary))
    console.print(Panel(listing, border_style="dim", title="Commands", title_align="left"))
