"""``provledger lineage``: what a dataset was derived from and what was derived from it, as a
tree for people, Graphviz DOT for drawings, or W3C PROV-JSON for provenance tools."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape

from api.commands.datasets import DatasetArg
from api.commands.options import ServiceOptions, with_options

#: The top-level commands defined here (``provledger lineage``).
commands = typer.Typer()

#: A version in a lineage answer: (dataset id, version number).
Node = tuple[str, int]


class LineageFormat(StrEnum):
    TREE = "tree"
    DOT = "dot"
    PROV_JSON = "prov-json"


def _node(end: dict[str, Any]) -> Node:
    return (str(end["dataset_id"]), int(end["version"]))


def _label(node: Node) -> str:
    dataset_id, version = node
    return f"{dataset_id[:10]}…{dataset_id[-4:]} v{version}"


def tree_lines(answer: dict[str, Any]) -> list[str]:
    """The lineage as indented lines: the dataset's versions, then what each was derived from
    (``↑``, ancestors) and what was derived from it (``↓``, descendants), nested by depth."""
    parents: dict[Node, list[Node]] = {}
    children: dict[Node, list[Node]] = {}
    for edge in answer["ancestors"] + answer.get("within", []):
        parents.setdefault(_node(edge["child"]), []).append(_node(edge["parent"]))
    for edge in answer["descendants"] + answer.get("within", []):
        children.setdefault(_node(edge["parent"]), []).append(_node(edge["child"]))
    dataset_id = answer["dataset_id"]
    starts = sorted(
        {n for n in [*parents, *children] if n[0] == dataset_id}
        | ({(dataset_id, answer["version"])} if answer.get("version") else set())
    )
    lines = [f"dataset {dataset_id}"]
    if not starts:
        lines.append("  no lineage: derived from nothing and used by nothing")
    for start in starts:
        lines.append(f"  v{start[1]}")
        lines += _branch(start, parents, "↑ derived from", 2, {start})
        lines += _branch(start, children, "↓ used by", 2, {start})
    return lines


def _branch(
    node: Node, links: dict[Node, list[Node]], arrow: str, indent: int, path: set[Node]
) -> list[str]:
    lines = []
    for other in sorted(links.get(node, [])):
        if other[0] == node[0] and other in path:
            continue
        lines.append("  " * indent + f"{arrow} {_label(other)}  ({other[0]}:{other[1]})")
        if other not in path:  # lineage is acyclic; the guard keeps a bad answer finite
            lines += _branch(other, links, arrow, indent + 1, path | {other})
    return lines


def dot_lines(answer: dict[str, Any]) -> list[str]:
    """The lineage as a Graphviz digraph: a node per version, an edge from each parent to
    what was derived from it, the dataset asked about drawn bold."""
    edges = answer["ancestors"] + answer.get("within", []) + answer["descendants"]
    nodes = sorted(
        {_node(e[end]) for e in edges for end in ("child", "parent")}
        | ({(answer["dataset_id"], answer["version"])} if answer.get("version") else set())
    )
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for node in nodes:
        style = ", style=bold" if node[0] == answer["dataset_id"] else ""
        lines.append(f'  "{node[0]}:{node[1]}" [label="{_label(node)}"{style}];')
    for parent, child in sorted({(_node(e["parent"]), _node(e["child"])) for e in edges}):
        lines.append(f'  "{parent[0]}:{parent[1]}" -> "{child[0]}:{child[1]}";')
    lines.append("}")
    return lines


def _write(lines: Iterable[str]) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))


@commands.command("lineage")
@with_options
def lineage_command(
    dataset_id: DatasetArg,
    version: Annotated[
        int | None, typer.Option(min=1, help="Walk from this version only (default: all).")
    ] = None,
    depth: Annotated[int, typer.Option(min=1, max=20, help="Steps to walk each way.")] = 5,
    output: Annotated[
        LineageFormat,
        typer.Option(
            "--format",
            help="tree (people), dot (Graphviz) or prov-json (W3C PROV, for PROV tools).",
        ),
    ] = LineageFormat.TREE,
    *,
    options: ServiceOptions,
) -> None:
    """What a dataset's versions were derived from and what was derived from them, across
    departments, up to --depth steps each way (as the index shows it; `verify` checks each
    version against the chain)."""
    with options.connect() as (client, terminal):
        if output is LineageFormat.PROV_JSON:
            # Ancestors only, as PROV records them (what each version was derived from).
            document = client.provenance(dataset_id, version=version, depth=depth)
            sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
            return
        answer = client.get_lineage(dataset_id, version=version, depth=depth)
        if output is LineageFormat.DOT:
            _write(dot_lines(answer))
            return

        def human() -> None:
            for line in tree_lines(answer):
                terminal.say(escape(line))

        terminal.emit(answer, human)
