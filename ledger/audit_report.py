"""A catalogue audit from the terminal: files (a folder or a manifest) checked in bulk, a report.

``provledger verify DIR|--manifest FILE`` gathers ``(name, SHA-256)`` entries (a folder's files
are hashed here, with a progress bar; a manifest names them), checks them in chunks through a
*checker* and reports one row per file: its status (``matched``, ``withdrawn``,
``not-registered``, ``signature-invalid``, ``history-incomplete``) and, per registration, the
department, dataset, version and chain coordinates. Two checkers give the same verdicts:

* against the chain alone (``--rpc --contract``): :class:`~ledger.audit.BulkVerifier` over
  JSON-RPC batches; no service, no index. Records anchored in Merkle batches are not in the
  chain's logs (only their root is): they need the service, or their proof bundle;
* through a provledger service (``--url``): ``POST /v1/verify/batch``, which also proves
  batched records against their anchored roots.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.hashing import Digest, sha256_file
from ledger.manifest import ManifestEntry

if TYPE_CHECKING:  # web3 comes with them: the CLI imports this module at every start
    from ledger.audit import BulkVerifier

#: Checks a chunk of hashes: the block the verdicts hold at, and a summary per hash in order
#: (:func:`ledger.verifier.verdict_summary`).
Checker = Callable[[Sequence[Digest]], tuple[int, list[dict[str, Any]]]]

#: Statuses in the order a report counts them.
STATUSES = ("matched", "withdrawn", "not-registered", "signature-invalid", "history-incomplete")


@dataclass
class AuditReport:
    """One row per file, as checked; the block the last chunk was checked at; timings."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    block_number: int = 0
    hashing_seconds: float = 0.0
    checking_seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(row["status"] for row in self.rows)
        return {status: counted[status] for status in STATUSES if counted[status]}

    @property
    def all_matched(self) -> bool:
        return all(row["status"] == "matched" for row in self.rows)

    def to_json(self) -> str:
        return json.dumps(
            {
                "files": len(self.rows),
                "counts": self.counts,
                "verified_at_block": self.block_number,
                "hashing_seconds": round(self.hashing_seconds, 3),
                "checking_seconds": round(self.checking_seconds, 3),
                "results": self.rows,
            },
            indent=1,
        )

    def to_csv(self) -> str:
        """One line per registration (a file registered twice has two), a file with none one
        line with the registration columns empty."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        columns = (
            "dataset_id", "version", "department_id", "signer", "block_number", "block_time",
            "tx_hash", "log_index", "withdrawn",
        )  # fmt: skip
        writer.writerow(("path", "content_hash", "status", *columns, "anchor_root"))
        for row in self.rows:
            base = (row["path"], row["content_hash"], row["status"])
            if not row["registrations"]:
                writer.writerow((*base, *[""] * (len(columns) + 1)))
            for registration in row["registrations"]:
                anchor = registration.get("anchor") or {}
                writer.writerow(
                    (*base, *(registration[c] for c in columns), anchor.get("root", ""))
                )
        return out.getvalue()


def chain_checker(verifier: BulkVerifier) -> Checker:
    """Checks against the chain alone (the verifier's registries, over its JSON-RPC)."""
    from ledger.verifier import verdict_summary

    def check(digests: Sequence[Digest]) -> tuple[int, list[dict[str, Any]]]:
        audit = verifier.verify_many([bytes(d) for d in digests])
        return audit.block_number, [
            verdict_summary({**v.to_dict(), "status": v.status}) for v in audit.verdicts
        ]

    return check


def files_below(folder: Path) -> list[Path]:
    """Regular files below ``folder``, in a stable order; hidden ones (``.git``…) left out."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def hash_files(
    folder: Path, files: Sequence[Path], on_bytes: Callable[[int], None] | None = None
) -> list[ManifestEntry]:
    """``(path relative to folder, SHA-256)`` of each file, in order."""
    entries = []
    for path in files:
        done = 0

        def advance(total: int) -> None:
            nonlocal done
            if on_bytes is not None:
                on_bytes(total - done)
            done = total

        digest = sha256_file(path, on_progress=advance)
        entries.append(ManifestEntry(path.relative_to(folder).as_posix(), digest))
    return entries


def run_audit(
    entries: Sequence[ManifestEntry],
    check: Checker,
    *,
    chunk: int,
    on_checked: Callable[[int], None] | None = None,
) -> AuditReport:
    """Check ``entries`` ``chunk`` at a time; the report's rows are in the entries' order."""
    report = AuditReport()
    started = time.perf_counter()
    for start in range(0, len(entries), chunk):
        part = entries[start : start + chunk]
        report.block_number, summaries = check([e.digest for e in part])
        for entry, summary in zip(part, summaries, strict=True):
            report.rows.append({"path": entry.name, **summary})
        if on_checked is not None:
            on_checked(len(part))
    report.checking_seconds = time.perf_counter() - started
    return report


__all__ = [
    "STATUSES",
    "AuditReport",
    "Checker",
    "chain_checker",
    "files_below",
    "hash_files",
    "run_audit",
]
