"""Following writes at a terminal: ``provledger ops show|wait`` and ``provledger audit``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from api.commands.common import (
    CursorOption,
    ExitCode,
    LimitOption,
    Terminal,
    TimeoutOption,
    describe,
    hex_id,
    watch,
)
from api.commands.options import ServiceOptions, with_options

if TYPE_CHECKING:
    from api.schemas import OperationPublic


#: The top-level commands defined here (``provledger audit``).
commands = typer.Typer()
ops_app = typer.Typer(
    name="ops", help="Where a write stands: pending → submitted → confirmed.", no_args_is_help=True
)

OperationArg = Annotated[str, typer.Argument(help="The operation id (op_…) a write answered.")]


def _show(terminal: Terminal, operation: OperationPublic) -> None:
    def human() -> None:
        terminal.say(escape(describe(operation)))
        if operation.error is not None:
            terminal.say(f"  error {operation.error.code}: {escape(operation.error.message)}")
        if operation.result:
            fields = " ".join(f"{key}={value}" for key, value in sorted(operation.result.items()))
            terminal.say(f"  result: {escape(fields)}")

    terminal.emit(operation.model_dump(mode="json"), human)


@ops_app.command("show")
@with_options
def show(operation_id: OperationArg, *, options: ServiceOptions) -> None:
    """An operation as it stands now."""
    with options.connect() as (client, terminal):
        _show(terminal, client.get_operation(operation_id))


@ops_app.command("wait")
@with_options
def wait(
    operation_id: OperationArg, *, options: ServiceOptions, timeout: TimeoutOption = 120.0
) -> None:
    """Wait until an operation is confirmed (exit 0) or failed (exit 5)."""
    with options.connect() as (client, terminal):
        operation = watch(client, terminal, operation_id, timeout)
    _show(terminal, operation)
    if operation.status == "failed":
        raise typer.Exit(int(ExitCode.FAILED))


@commands.command("audit")
@with_options
def audit_command(
    dataset: Annotated[
        str | None, typer.Option(help="Only events about this dataset.", callback=hex_id)
    ] = None,
    department: Annotated[
        int | None, typer.Option(help="Only events naming this department (governance).")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="Only this event (e.g. AccessRequested, VersionAdded) or category: access, "
            "anchor, dataset, department."
        ),
    ] = None,
    limit: LimitOption = 100,
    cursor: CursorOption = None,
    *,
    options: ServiceOptions,
) -> None:
    """The ledger's event history, oldest first (a department sees its own trail)."""
    with options.connect() as (client, terminal):
        page = client.audit_events(
            dataset=dataset, department=department, kind=kind, cursor=cursor, limit=limit
        )

        def show_item(item: dict[str, Any]) -> None:
            chain = item["chain"]
            args = " ".join(f"{key}={value}" for key, value in sorted(item["args"].items()))
            terminal.say(
                f"block {chain['block_number']} {item['event']} {escape(args)} "
                f"tx {chain['tx_hash']}"
            )

        terminal.emit_page(page, show_item)
