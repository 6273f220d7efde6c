"""What every client command shares: options, where output goes, exit codes, waiting.

Data (a result, or JSON with ``--json``) goes to stdout. Everything else a person watches —
spinners, progress bars, hints — goes to stdout only on an interactive terminal without
``--json``; otherwise to stderr, so a pipe gets clean data. Errors always go to stderr as
``error: <code>: <detail>``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from ledger.errors import InvalidDigestError
from ledger.hashing import Digest

if TYPE_CHECKING:
    # The client (and httpx under it) is imported where a command first talks to a service:
    # `provledger hash` and `--help` start in a fraction of the time without it.
    from api.client import ClientError, ProvledgerClient
    from api.schemas import Accepted, DepartmentEnrolled, OperationPublic


DEFAULT_URL = "http://127.0.0.1:8000"

#: Files at least this large get a progress bar while they are hashed or uploaded.
PROGRESS_THRESHOLD = 16 << 20


class ExitCode(IntEnum):
    """Exit statuses of the client commands, one per kind of outcome a script may act on."""

    OK = 0
    NO = 1  # a question answered "no" (``access check``)
    USAGE = 2  # bad arguments; nothing was sent (click uses 2 for its own usage errors)
    REFUSED = 3  # the service refused the request (a 4xx problem); nothing changed
    UNAVAILABLE = 4  # no answer, or the service failed (5xx): try again later
    FAILED = 5  # the service accepted the write but the chain refused it
    PENDING = 6  # still not settled when --timeout ran out; follow with `ops wait`
    TAMPERED = 7  # sealed bytes that do not open, or open to other content: nothing written
    ENDED = 8  # the department's grant was revoked or has expired: access ended


UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="PROVLEDGER_URL", help="Base URL of the provledger service."),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="PROVLEDGER_TOKEN",
        show_default=False,
        help="Bearer token (department, auditor or governance).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Wait until the write is confirmed on chain, or print the operation id at once.",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for confirmation.")
]
#: Why a write was made; only the text's hash goes on chain, with the event.
ReasonOption = Annotated[str, typer.Option(help="Why (its hash goes on chain).")]
#: A page of a list: the API answers at most 500 items a request.
LimitOption = Annotated[int, typer.Option(min=1, max=500, help="At most this many.")]
CursorOption = Annotated[str | None, typer.Option(help="Continue where a previous page ended.")]


def hex_id(value: str | None) -> str | None:
    """A typer callback: a dataset or request id (0x + 64 hex digits), lowercased, or a usage
    error (exit 2, nothing sent) rather than the service's 422 (exit 3)."""
    if value is None:
        return None
    try:
        return Digest.from_hex(value).hex()
    except InvalidDigestError as exc:
        raise typer.BadParameter(
            f"{value[:80]!r} is not an id: 0x and 64 hex digits, as the ledger prints them"
        ) from exc


#: ``api.app.GOVERNANCE_TOKEN_FILE``, spelled here because importing the service takes seconds
#: (a test holds the two equal).
GOVERNANCE_TOKEN_FILE = "governance.token"


def governance_token_file() -> Path:
    """Where ``provledger serve`` wrote the governance token (``PROVLEDGER_DATA_DIR``)."""
    from ledger.config import Settings

    return Settings().data_dir / GOVERNANCE_TOKEN_FILE


@dataclass
class Terminal:
    """The two streams a command writes to (see the module docstring)."""

    as_json: bool
    data: Console = field(init=False)
    status: Console = field(init=False)

    def __post_init__(self) -> None:
        # Built per invocation: the consoles follow whatever sys.stdout/stderr are right now.
        self.data = Console(soft_wrap=True, highlight=False)
        interactive = sys.stdout.isatty() and not self.as_json
        self.status = (
            self.data if interactive else Console(stderr=True, highlight=False, soft_wrap=True)
        )

    def emit(self, payload: Any, human: Callable[[], None]) -> None:
        """``payload`` as JSON with ``--json``, else whatever ``human`` prints."""
        if self.as_json:
            sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        else:
            human()

    def emit_page(
        self,
        page: Mapping[str, Any],
        show_item: Callable[[dict[str, Any]], None],
        *,
        if_empty: str = "",
    ) -> None:
        """One page of a list: JSON with ``--json``, else each item as ``show_item`` prints it,
        then how to ask for the next page. That hint (and ``if_empty``) is for people, so it
        goes to the status stream, not among the data."""

        def human() -> None:
            for item in page["items"]:
                show_item(item)
            if if_empty and not page["items"]:
                self.status.print(if_empty)
            if page["next_cursor"]:
                self.status.print(f"more: --cursor {page['next_cursor']}")

        self.emit(page, human)

    def say(self, text: str) -> None:
        """A line of result for people (markup allowed; escape what users typed)."""
        self.data.print(text)

    def fail(self, code: str, detail: str, exit_code: ExitCode, **extra: Any) -> NoReturn:
        """Print ``error: <code>: <detail>`` to stderr (and the error as JSON on stdout with
        ``--json``) and exit with ``exit_code``."""
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        errors.print(f"[bold red]error[/]: {escape(code)}: {escape(detail)}")
        if self.as_json:
            error = {"code": code, "detail": detail, **extra}
            sys.stdout.write(json.dumps({"error": error}, indent=2, sort_keys=True) + "\n")
        raise typer.Exit(int(exit_code))

    def fail_client(self, exc: ClientError) -> NoReturn:
        """Exit for a client error, with the status that says what kind of failure it was."""
        from api.client import ApiError, OperationTimeoutError

        if isinstance(exc, ApiError):
            refused = 400 <= exc.status < 500
            code = ExitCode.REFUSED if refused else ExitCode.UNAVAILABLE
            if exc.code in ("access-revoked", "access-expired"):
                code = ExitCode.ENDED
            self.fail(exc.code, exc.detail, code, status=exc.status)
        if isinstance(exc, OperationTimeoutError):
            self.fail(
                exc.code,
                f"{exc.detail}; follow it with `provledger ops wait {exc.operation.id}`",
                ExitCode.PENDING,
                operation=exc.operation.model_dump(mode="json"),
            )
        # Unreachable, or anything else that is not the service's considered answer.
        self.fail(exc.code, exc.detail, ExitCode.UNAVAILABLE)


def _saved_governance_token(terminal: Terminal) -> str | None:
    from pydantic import ValidationError

    try:
        path = governance_token_file()
        return path.read_text().strip() if path.exists() else None
    except ValidationError as exc:
        terminal.fail("configuration-error", f"PROVLEDGER_* settings: {exc}", ExitCode.USAGE)
    except OSError as exc:
        terminal.fail("no-token", f"cannot read the governance token: {exc}", ExitCode.USAGE)


@contextmanager
def connect(
    url: str, token: str | None, *, as_json: bool, governance: bool = False
) -> Iterator[tuple[ProvledgerClient, Terminal]]:
    """A client for ``url`` and the terminal to report on; client errors become exits.

    Governance commands without a token read the one ``provledger serve`` wrote."""
    from api.client import ClientError, ProvledgerClient

    terminal = Terminal(as_json)
    if token is None and governance:
        token = _saved_governance_token(terminal)
    if not token:
        where = " or run next to the service's data directory" if governance else ""
        terminal.fail("no-token", f"give --token or set PROVLEDGER_TOKEN{where}", ExitCode.USAGE)
    try:
        with ProvledgerClient(url, token) as client:
            yield client, terminal
    except ClientError as exc:
        terminal.fail_client(exc)


# --- waiting for the chain -------------------------------------------------------------------


def human_duration(seconds: int) -> str:
    """``2592000`` as ``30 days``, ``5400`` as ``1 h 30 min``: the largest two units that
    are not zero (a person reads an access grant's length, not its seconds)."""
    if seconds < 60:
        return f"{seconds} s"
    parts = []
    for name, size in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if name == 'day' and count != 1 else ''}")
    return " ".join(parts[:2])


def human_time(unix_seconds: int) -> str:
    """A Unix time as people and ``date -d`` read it: ``2026-12-07 19:15:00 UTC``."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(operation: OperationPublic) -> str:
    """One line: where an operation stands (pending → submitted → confirmed k/K)."""
    text = f"{operation.kind} {operation.id}: {operation.status}"
    chain = operation.chain
    if chain.tx_hash:
        text += f", tx {chain.tx_hash}"
    if chain.block_number is not None:
        text += (
            f", block {chain.block_number}"
            f" ({operation.confirmations}/{operation.required_confirmations} confirmations)"
        )
    return text


def watch(
    client: ProvledgerClient, terminal: Terminal, operation_id: str, timeout: float
) -> OperationPublic:
    """Wait for an operation with a spinner (a line per change when nobody watches live)."""
    seen: list[tuple[str, int]] = []
    if terminal.status.is_interactive:
        with terminal.status.status(f"{operation_id}: waiting") as spinner:
            return client.wait_for_operation(
                operation_id,
                timeout=timeout,
                on_update=lambda op: spinner.update(escape(describe(op))),
            )

    def log_change(operation: OperationPublic) -> None:
        state = (operation.status, operation.confirmations)
        if operation.status in ("confirmed", "failed") and not terminal.as_json:
            return  # the caller's answer says how it ended: once, not twice
        if not seen or seen[-1] != state:
            seen.append(state)
            terminal.status.print(escape(describe(operation)))

    return client.wait_for_operation(operation_id, timeout=timeout, on_update=log_change)


def settle(
    client: ProvledgerClient,
    terminal: Terminal,
    accepted: Accepted | DepartmentEnrolled,
    human: Callable[[OperationPublic | None], None],
    *,
    wait: bool,
    timeout: float,
) -> None:
    """Finish a write the service accepted (202): wait for the chain unless ``--no-wait``, then
    print the answer (JSON: the 202 body plus the final ``operation``). A write the chain
    refused exits with :attr:`ExitCode.FAILED`.

    ``human`` prints the answer for people, given the settled operation (None with
    ``--no-wait``); it usually ends with :func:`report_write`."""
    payload = accepted.model_dump(mode="json")
    if not wait:
        terminal.emit(payload, lambda: human(None))
        return
    operation = watch(client, terminal, accepted.operation_id, timeout)
    payload["operation"] = operation.model_dump(mode="json")
    if operation.status == "failed":
        error = operation.error
        code, message = (error.code, error.message) if error else ("failed", "no reason given")
        terminal.fail(code, message, ExitCode.FAILED, operation=payload["operation"])
    terminal.emit(payload, lambda: human(operation))


def finish(
    client: ProvledgerClient,
    terminal: Terminal,
    accepted: Accepted,
    what: str,
    *,
    wait: bool,
    timeout: float,
) -> None:
    """:func:`settle` a plain write, reported as one line naming ``what`` was done."""

    def human(operation: OperationPublic | None) -> None:
        report_write(terminal, what, operation, accepted.operation_id)

    settle(client, terminal, accepted, human, wait=wait, timeout=timeout)


def report_write(
    terminal: Terminal, what: str, operation: OperationPublic | None, operation_id: str
) -> None:
    """The human line for a settled write, or for one accepted with ``--no-wait``."""
    if operation is None:
        terminal.say(f"{escape(what)}: accepted as operation {operation_id}")
        terminal.status.print(f"follow it with: provledger ops wait {operation_id}")
    else:
        terminal.say(f"{escape(what)}: {escape(describe(operation))}")


# --- files ----------------------------------------------------------------------------------


@contextmanager
def byte_progress(
    terminal: Terminal, description: str, total: int
) -> Iterator[Callable[[int], None] | None]:
    """A callback reporting bytes done to a progress bar, when the job is big enough to watch
    and someone is watching; else None."""
    if total < PROGRESS_THRESHOLD or not terminal.status.is_terminal:
        yield None
        return
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=terminal.status, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)


def hash_locally(terminal: Terminal, path: Path) -> Digest:
    """The file's SHA-256, streamed in constant memory; its bytes stay on this machine."""
    from ledger.hashing import sha256_file

    started = time.monotonic()
    size = path.stat().st_size
    with byte_progress(terminal, f"hashing {path.name}", size) as report:
        digest = sha256_file(path, on_progress=report)
    if size >= PROGRESS_THRESHOLD:
        seconds = max(time.monotonic() - started, 1e-9)
        terminal.status.print(f"hashed {size / 1e6:.1f} MB in {seconds:.1f}s")
    return digest
