"""Access between departments at a terminal: ``provledger access …``.

request → approve (until an expiry) / deny → revoke, or cancel by the requester; ``check``
asks the contract itself whether a department may read a dataset now (exit 0 yes, 1 no);
``prove`` writes an offline bundle saying whether it held a grant at a past time, and
``check-proof`` checks one against any node (:mod:`ledger.access_proof`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from api.commands.common import (
    ExitCode,
    LimitOption,
    ReasonOption,
    Terminal,
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
    from ledger.access_proof import AccessProof
    from ledger.chain.backend import Chain


access_app = typer.Typer(
    name="access",
    help="Request, approve, deny, cancel, revoke, check and prove access to datasets.",
    no_args_is_help=True,
)

DatasetArg = Annotated[str, typer.Argument(help="The dataset (0x id).", callback=hex_id)]
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
    dataset_id: DatasetArg,
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
    dataset_id: DatasetArg,
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


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _address(value: str | None) -> str | None:
    """A typer callback: a contract address (0x + 40 hex digits), or a usage error."""
    if value is not None and not _ADDRESS.fullmatch(value.strip()):
        raise typer.BadParameter(f"{value[:80]!r} is not an address: 0x and 40 hex digits")
    return None if value is None else value.strip()


RpcOption = Annotated[
    str | None,
    typer.Option(
        help="JSON-RPC URL of any node of the chain (default: the service's own /rpc, with "
        "the token if one is given)."
    ),
]


def _node(options: ServiceOptions, rpc: str | None, terminal: Terminal) -> Chain:
    from ledger.chain.backend import Chain
    from ledger.errors import LedgerError

    url = rpc or options.url.rstrip("/") + "/rpc"
    headers = {"Authorization": f"Bearer {options.token}"} if rpc is None and options.token else {}
    try:
        return Chain.rpc(url, headers=headers)
    except LedgerError as exc:
        terminal.fail(exc.code, f"{url}: {exc.message}", ExitCode.UNAVAILABLE)


def _fail_ledger(terminal: Terminal, exc: Exception) -> None:
    """Exit for a ledger error: 1 a bundle that does not hold, 2 bad input, 4 the node."""
    from ledger.errors import AccessProofError, InvalidInputError, LedgerError

    if not isinstance(exc, LedgerError):
        raise exc
    if isinstance(exc, AccessProofError):
        terminal.fail(exc.code, exc.message, ExitCode.NO)
    status = ExitCode.USAGE if isinstance(exc, InvalidInputError) else ExitCode.UNAVAILABLE
    terminal.fail(exc.code, exc.message, status)


def _show_proof(terminal: Terminal, proof: AccessProof, payload: dict[str, Any]) -> None:
    verdict = proof.verdict

    def human() -> None:
        held = "[bold green]held[/]" if verdict.held else "[bold red]did not hold[/]"
        terminal.say(
            f"{held}: department {proof.department_id} {'held' if verdict.held else 'held no'} "
            f"access to {proof.dataset_id} at {human_time(proof.at)} ({verdict.reason})"
        )
        grant = verdict.grant
        if grant is not None:
            terminal.say(
                f"  grant {grant.request_id}: approved {human_time(grant.approved_at)}, "
                f"expires {human_time(grant.expires_at)}"
                + (f", {grant.ended} {human_time(grant.ended_at)}" if grant.ended_at else "")
            )
        terminal.say(
            f"  {len(proof.requests)} request(s), histories re-hashed to the heads stored at "
            f"block {proof.block_number} {proof.block_hash} (chain {proof.chain_id}, "
            f"contract {proof.contract})"
        )

    terminal.emit(payload, human)


@access_app.command("prove")
@with_options
def prove(
    dataset_id: DatasetArg,
    department: Annotated[int, typer.Option(min=1, help="The department the proof is about.")],
    at: Annotated[
        str,
        typer.Option(
            help="The time: 2027-01-31, 2027-01-31T12:00Z (UTC unless given) or Unix seconds."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the bundle here (never overwritten)."),
    ] = None,
    rpc: RpcOption = None,
    contract: Annotated[
        str | None,
        typer.Option(
            help="AccessRegistry address (default: the one the service reports).",
            callback=_address,
        ),
    ] = None,
    *,
    options: ServiceOptions,
) -> None:
    """Prove from the chain whether a department held a grant to a dataset at a time: every
    request it made for the dataset with all their events, re-hashed to the history heads the
    contract stores, so a hidden revocation shows. Exit 0 held, 1 not held."""
    from ledger.access_proof import prove_access

    when = parse_time(at, option="--at")
    if output is not None and output.exists():
        raise typer.BadParameter(f"{output} exists; a bundle is never overwritten", param_hint="-o")
    if contract is None:
        with options.connect() as (client, _):
            contract = str(client.has_access(dataset_id, department)["chain"]["contract"])
    terminal = Terminal(options.as_json)
    chain = _node(options, rpc, terminal)
    try:
        proof = prove_access(chain, contract, bytes.fromhex(dataset_id[2:]), department, when)
    except Exception as exc:
        _fail_ledger(terminal, exc)
        raise
    finally:
        chain.close()
    if output is not None:
        output.write_text(proof.to_json())
        terminal.status.print(f"access proof written to {escape(str(output))}")
    _show_proof(terminal, proof, proof.to_dict())
    raise typer.Exit(int(ExitCode.OK if proof.verdict.held else ExitCode.NO))


@access_app.command("check-proof")
@with_options
def check_proof(
    bundle: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="An access proof bundle."),
    ],
    rpc: RpcOption = None,
    contract: Annotated[
        str | None,
        typer.Option(
            help="Refuse a bundle for another AccessRegistry than this one.", callback=_address
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Check the events against the heads and the verdict only, no node."
        ),
    ] = False,
    *,
    options: ServiceOptions,
) -> None:
    """Check an access proof against a node, at the bundle's block: the events are the
    chain's, they re-hash to the heads the contract stores, no request is left out and the
    verdict is theirs. Exit 0 it holds (the verdict is printed), 1 it does not (the error names
    what differs)."""
    from ledger.access_proof import check_access_proof

    terminal = Terminal(options.as_json)
    chain = None if offline else _node(options, rpc, terminal)
    try:
        proof = check_access_proof(
            bundle.read_text(errors="replace"), chain=chain, contract=contract
        )
    except Exception as exc:
        _fail_ledger(terminal, exc)
        raise
    finally:
        if chain is not None:
            chain.close()
    where = "offline (events, heads, verdict)" if chain is None else "against the chain"
    terminal.status.print(f"access proof checked {where}")
    _show_proof(terminal, proof, {"checked": True, "offline": chain is None, **proof.to_dict()})
