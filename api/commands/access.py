"""Access between departments at a terminal: ``provledger access …``.

request → approve (until an expiry) / deny → revoke, or cancel by the requester; ``check``
asks the contract itself whether a department may read a dataset now (exit 0 yes, 1 no).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from api.commands.common import (
    ExitCode,
    LimitOption,
    ReasonOption,
    finish,
    hex_id,
    human_duration,
    human_time,
    report_write,
    settle,
)
from api.commands.options import ServiceOptions, WriteOptions, with_options

if TYPE_CHECKING:
    from api.schemas import OperationPublic


access_app = typer.Typer(
    name="access",
    help="Request, approve, deny, cancel, revoke and check access to datasets.",
    no_args_is_help=True,
)

RequestArg = Annotated[
    str,
    typer.Argument(
        help="The access request's id (a grant's id is its request's id).", callback=hex_id
    ),
]

_CLOCK_MARGIN = 60
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d{1,12})([smhdw]?)")


def parse_duration(text: str, *, option: str) -> int:
    """Seconds in ``3600``, ``90s``, ``15m``, ``12h``, ``30d`` or ``2w``."""
    match = _DURATION.fullmatch(text.strip())
    seconds = int(match[1]) * _UNITS[match[2] or "s"] if match else 0
    if seconds < 1:
        raise typer.BadParameter(
            f"{text[:40]!r} is not a duration like 3600, 90m, 12h, 30d or 2w", param_hint=option
        )
    return seconds


def parse_time(text: str, *, option: str) -> int:
    """Unix seconds of ``2027-01-31``, ``2027-01-31T12:00``, ``2027-01-31T12:00:00+08:00``
    (UTC when no offset is given) or of Unix seconds themselves."""
    from datetime import UTC, datetime

    stripped = text.strip()
    if stripped.isdigit() and len(stripped) <= 12:
        seconds = int(stripped)
    else:
        try:
            moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        seconds = (
            int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
            if moment
            else 0
        )
    if seconds < 1:
        raise typer.BadParameter(
            f"{text[:40]!r} is not a time like 2027-01-31, 2027-01-31T12:00Z or Unix seconds",
            param_hint=option,
        )
    return seconds


@access_app.command("request")
@with_options
def request_access(
    dataset_id: Annotated[str, typer.Argument(help="The dataset (0x id).", callback=hex_id)],
    purpose: Annotated[str, typer.Option(help="What the data is for (its hash goes on chain).")],
    duration: Annotated[
        str, typer.Option(help="How long access is wanted: 3600, 90m, 12h, 30d, 2w.")
    ],
    *,
    options: WriteOptions,
) -> None:
    """Ask the dataset's owner for access; prints the request id to give them."""
    seconds = parse_duration(duration, option="--duration")
    with options.connect() as (client, terminal):
        accepted = client.request_access(dataset_id, purpose=purpose, duration_seconds=seconds)
        request_id = accepted.resource["request_id"]

        def human(operation: OperationPublic | None) -> None:
            terminal.say(f"access request {request_id}")
            what = f"  for {human_duration(seconds)} to {dataset_id}"
            report_write(terminal, what, operation, accepted.operation_id)

        settle(client, terminal, accepted, human, wait=options.wait, timeout=options.timeout)


@access_app.command("approve")
@with_options
def approve(
    request_id: RequestArg,
    expires_in: Annotated[
        str | None,
        typer.Option(help="Grant for this long from now (at most the requested duration)."),
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option(
            help="Grant until this time instead: 2027-01-31, 2027-01-31T12:00Z (UTC unless "
            "given) or Unix seconds."
        ),
    ] = None,
    *,
    options: WriteOptions,
) -> None:
    """Grant a pending request for one of your datasets, until an expiry (by default for all
    of the requested duration)."""
    if expires_in is not None and expires_at is not None:
        raise typer.BadParameter("give --expires-in or --expires-at, not both")
    lasting = parse_duration(expires_in, option="--expires-in") if expires_in else None
    until = parse_time(expires_at, option="--expires-at") if expires_at is not None else None
    with options.connect() as (client, terminal):
        if until is None:
            # Counted from the chain's clock, which the contract checks the expiry against.
            asked = client.get_access_request(request_id)
            now = int(asked["chain"]["block_time"])
            # A minute short of the limit: the approval is mined a little after now.
            until = now + (lasting or int(asked["requested_duration"]) - _CLOCK_MARGIN)
        accepted = client.approve_access(request_id, expires_at=until)
        what = f"grant of {request_id} until {human_time(until)}"
        finish(client, terminal, accepted, what, wait=options.wait, timeout=options.timeout)


@access_app.command("deny")
@with_options
def deny(
    request_id: RequestArg,
    reason: ReasonOption = "",
    *,
    options: WriteOptions,
) -> None:
    """Refuse a pending request for one of your datasets."""
    options.send(
        lambda client: client.deny_access(request_id, reason=reason), f"denial of {request_id}"
    )


@access_app.command("cancel")
@with_options
def cancel(
    request_id: RequestArg,
    *,
    options: WriteOptions,
) -> None:
    """Withdraw your own pending request."""
    options.send(
        lambda client: client.cancel_access_request(request_id), f"cancellation of {request_id}"
    )


@access_app.command("revoke")
@with_options
def revoke(
    request_id: RequestArg,
    reason: ReasonOption = "",
    *,
    options: WriteOptions,
) -> None:
    """End a grant on one of your datasets before its expiry."""
    options.send(
        lambda client: client.revoke_access(request_id, reason=reason),
        f"revocation of {request_id}",
    )


@access_app.command("check")
@with_options
def check(
    dataset_id: Annotated[str, typer.Argument(help="The dataset (0x id).", callback=hex_id)],
    department: Annotated[int, typer.Option(min=1, help="The department asking to read.")],
    block: Annotated[
        int | None, typer.Option(min=0, help="Ask as of this block (default: the latest).")
    ] = None,
    *,
    options: ServiceOptions,
) -> None:
    """Whether a department may read a dataset, per the contract. Exit 0 yes, 1 no."""
    with options.connect() as (client, terminal):
        answer = client.has_access(dataset_id, department, block=block)
    allowed = bool(answer["has_access"])

    def human() -> None:
        chain = answer["chain"]
        verdict = "[bold green]yes[/]" if allowed else "[bold red]no[/]"
        terminal.say(
            f"{verdict}: department {department} "
            f"{'may' if allowed else 'may not'} read {answer['dataset_id']} "
            f"(chain {chain['chain_id']}, block {chain['block_number']} {chain['block_hash']})"
        )

    terminal.emit(answer, human)
    raise typer.Exit(int(ExitCode.OK if allowed else ExitCode.NO))


@access_app.command("list")
@with_options
def list_requests(
    role: Annotated[
        str | None,
        typer.Option(help="incoming (for your datasets, to answer) or outgoing (yours)."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="pending, approved, denied, cancelled, revoked or superseded."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Only requests for this dataset.", callback=hex_id)
    ] = None,
    limit: LimitOption = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue where a page ended.")] = None,
    *,
    options: ServiceOptions,
) -> None:
    """Access requests you made or that were made for your datasets, newest first."""
    with options.connect() as (client, terminal):
        page = client.list_access_requests(
            role=role, status=status, dataset=dataset, cursor=cursor, limit=limit
        )

        def show_item(item: dict[str, Any]) -> None:
            terminal.say(
                f"{item['request_id']} {item['status']} dataset {item['dataset_id']} "
                f"by {item['requester']} for {human_duration(int(item['requested_duration']))}"
            )
            if item.get("purpose"):
                terminal.say(f"  purpose: {escape(item['purpose'])}")

        terminal.emit_page(page, show_item)


@access_app.command("show")
@with_options
def show_request(
    request_id: RequestArg,
    *,
    options: ServiceOptions,
) -> None:
    """One access request as the chain has it now."""
    with options.connect() as (client, terminal):
        item = client.get_access_request(request_id)

        def human() -> None:
            terminal.say(
                f"{item['request_id']} {item['status']} dataset {item['dataset_id']} "
                f"(owner {item['owner']}) by {item['requester']} "
                f"for {human_duration(int(item['requested_duration']))}"
            )
            if item.get("expires_at"):
                terminal.say(f"  expires at {human_time(int(item['expires_at']))}")
            if item.get("purpose"):
                terminal.say(f"  purpose: {escape(item['purpose'])}")

        terminal.emit(item, human)
