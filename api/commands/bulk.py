"""``provledger register DIR``: every file of a folder, hashed here, registered in batches.

Each file becomes a new dataset (titled by its path in the folder) whose first version is the
file's SHA-256; only hashes leave the machine. Records go to ``POST /v1/datasets/batch`` in
requests of ``--chunk`` records, so they are anchored as Merkle batches: one signed root per
batch on chain, an inclusion proof per file. Progress bars follow the hashing (bytes) and the
confirmations (files).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from api.commands.common import ExitCode, Terminal, byte_progress, connect
from ledger.audit_report import Checker, files_below
from ledger.hashing import Digest, sha256_file
from ledger.jsonguard import loads

if TYPE_CHECKING:
    from api.client import ProvledgerClient

#: Records per request; the API takes up to 10,000.
DEFAULT_CHUNK = 1_000


def register_directory(
    client: ProvledgerClient,
    terminal: Terminal,
    folder: Path,
    *,
    classification: str,
    tags: Sequence[str],
    chunk: int,
    wait: bool,
    timeout: float,
) -> None:
    files = files_below(folder)
    if not files:
        terminal.fail("empty-directory", f"{folder} holds no files to register", ExitCode.USAGE)
    records = [
        {
            "content_hash": digest,
            "classification": classification,
            "metadata": {"title": str(path.relative_to(folder)), "tags": list(tags)},
        }
        for path, digest in zip(files, _hash_all(terminal, files), strict=True)
    ]
    labels = [str(path.relative_to(folder)) for path in files]
    send_records(
        client, terminal, labels, records, source=str(folder), chunk=chunk, wait=wait,
        timeout=timeout,
    )  # fmt: skip


def register_manifest(
    client: ProvledgerClient,
    terminal: Terminal,
    manifest: Path,
    *,
    chunk: int,
    wait: bool,
    timeout: float,
) -> None:
    """Register the records a manifest lists: JSON lines (or one JSON array) of objects shaped
    as ``POST /v1/datasets/batch`` records, for bytes hashed elsewhere."""
    text = manifest.read_text()
    try:
        if text.lstrip().startswith("["):
            records = loads(text)
        else:
            records = [loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        terminal.fail("invalid-manifest", f"{manifest}: not JSON lines: {exc}", ExitCode.USAGE)
    if not records or not all(isinstance(r, dict) for r in records):
        terminal.fail("invalid-manifest", f"{manifest}: expected JSON objects, one per record",
                      ExitCode.USAGE)  # fmt: skip
    labels = [f"{manifest.name}:{number}" for number in range(1, len(records) + 1)]
    send_records(client, terminal, labels, records, source=str(manifest), chunk=chunk,
                 wait=wait, timeout=timeout)  # fmt: skip


def send_records(
    client: ProvledgerClient,
    terminal: Terminal,
    labels: list[str],
    records: list[dict[str, Any]],
    *,
    source: str,
    chunk: int,
    wait: bool,
    timeout: float,
) -> None:
    """Send ``records`` in requests of ``chunk``, wait for them, report one row each."""
    accepted: list[dict[str, Any]] = []
    for start in range(0, len(records), chunk):
        answer = client.register_batch(records[start : start + chunk])
        accepted.extend(answer["records"])
    rows = [{"path": label, **entry} for label, entry in zip(labels, accepted, strict=True)]
    statuses = (
        _wait_all(client, terminal, [r["operation_id"] for r in rows], timeout) if wait else {}
    )
    for row in rows:
        row["status"] = statuses.get(row["operation_id"], "pending")
    failed = [r for r in rows if r["status"] == "failed"]
    payload = {"source": source, "count": len(rows), "records": rows}

    def human() -> None:
        for row in rows:
            terminal.say(f"{row['status']:9} {row['dataset_id']} v{row['version']} {row['path']}")
        terminal.say(f"{len(rows)} records registered in batches from {source}")

    if failed:
        terminal.fail(
            "registration-failed",
            f"{len(failed)} of {len(rows)} records failed, first: {failed[0]['path']}",
            ExitCode.FAILED,
            records=rows,
        )
    pending = [r for r in rows if r["status"] != "confirmed"]
    if wait and pending:
        terminal.fail(
            "timeout",
            f"{len(pending)} of {len(rows)} records still pending after {timeout:.0f}s",
            ExitCode.PENDING,
            records=rows,
        )
    terminal.emit(payload, human)


def _hash_all(terminal: Terminal, files: list[Path]) -> list[str]:
    total = sum(path.stat().st_size for path in files)
    digests = []
    done = 0
    with byte_progress(terminal, f"hashing {len(files)} files", total) as report:
        for path in files:
            base = done
            progress = (lambda n, base=base: report(base + n)) if report else None
            digests.append(sha256_file(path, on_progress=progress).hex())
            done += path.stat().st_size
    return digests


def _wait_all(
    client: ProvledgerClient, terminal: Terminal, operation_ids: list[str], timeout: float
) -> dict[str, str]:
    """Poll every record until confirmed or failed, or ``timeout``; their last statuses."""
    statuses = dict.fromkeys(operation_ids, "pending")
    deadline = time.monotonic() + timeout
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=terminal.status, transient=True,
                  disable=not terminal.status.is_terminal) as progress:  # fmt: skip
        task = progress.add_task("confirming", total=len(operation_ids))
        # Records are anchored in queue order, so waiting on the oldest open one first
        # polls each record about once.
        open_ids = deque(operation_ids)
        while open_ids and time.monotonic() < deadline:
            status = client.get_operation(open_ids[0]).status
            statuses[open_ids[0]] = status
            if status in ("confirmed", "failed"):
                open_ids.popleft()
                progress.advance(task)
            else:
                time.sleep(0.2)
    return statuses


@contextmanager
def service_checker(url: str, token: str | None) -> Iterator[Checker]:
    """``provledger verify DIR|--manifest --url``: hashes checked by the service's
    ``POST /v1/verify/batch`` (a client error ends the command with its exit status)."""
    with connect(url, token, as_json=False) as (client, _):

        def check(digests: Sequence[Digest]) -> tuple[int, list[dict[str, Any]]]:
            answer = client.verify_batch([d.hex() for d in digests])
            return int(answer["verified_at_block"]), list(answer["results"])

        yield check
