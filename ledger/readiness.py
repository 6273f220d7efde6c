"""Is the service fit to take traffic, and if not, why: what ``/readyz`` answers.

Built from what the background workers last saw (the head watch, the relayer's health, the
index position), plus one ``SELECT 1``: a readiness probe never waits on the chain node, so a
node that hangs makes the answer "degraded", not slow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, text
from sqlmodel import Session, select

from ledger.relayer.models import Operation, OperationStatus

if TYPE_CHECKING:
    from ledger.runtime import Runtime

#: A head read older than this many poll intervals (and at least this floor) means the node no
#: longer answers in time, even if no read has failed yet (a hung node holds a read open).
_SILENT_POLLS, _SILENT_FLOOR = 5, 5.0


@dataclass(frozen=True, slots=True)
class Readiness:
    """``reasons`` is empty when ready; each names a fault (``chain-unreachable``,
    ``head-stalled``, ``relayer-blocked``, ``database-unavailable``)."""

    reasons: tuple[str, ...]
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.reasons


def readiness(runtime: Runtime) -> Readiness:
    settings = runtime.settings
    now = time.monotonic()
    reasons: list[str] = []
    checks: dict[str, Any] = {}

    silent_after = max(_SILENT_POLLS * settings.indexer_poll_interval, _SILENT_FLOOR)
    seen = runtime.head.current(max_age=2 * settings.indexer_poll_interval)
    silent_for = None if seen.checked_at is None else now - seen.checked_at
    reachable = seen.reachable and silent_for is not None and silent_for <= silent_after
    chain: dict[str, Any] = {"ok": reachable, "chain_id": runtime.chain.chain_id}
    if not reachable:
        reasons.append("chain-unreachable")
        chain["error"] = seen.error or f"no answer from the node for {silent_for or 0:.0f} s"
    head = seen.head
    if head is not None:
        unchanged = seen.unchanged_for(now) or 0.0
        chain |= {
            "head": head.number,
            "head_hash": head.hash,
            "finalized": head.finalized,
            "head_age_seconds": round(max(time.time() - head.timestamp, 0.0), 3),
            "head_unchanged_seconds": round(unchanged, 3),
            "last_answer_seconds_ago": round(silent_for or 0.0, 3),
        }
        stall_after = settings.stall_blocks * settings.expected_block_time
        if settings.expected_block_time > 0 and reachable and unchanged > stall_after:
            reasons.append("head-stalled")
            chain["ok"] = False
            chain["error"] = (
                f"the head has not moved for {unchanged:.0f} s "
                f"(blocks expected every {settings.expected_block_time:g} s)"
            )
    checks["chain"] = chain

    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # any driver's error: the answer is "not ready", not a 500
        reasons.append("database-unavailable")
        checks["database"] = {"ok": False, "error": str(exc)}

    try:
        last = runtime.indexer.last_indexed_block()
        indexer: dict[str, Any] = {"ok": True, "last_block": last}
        if head is not None:
            position = runtime.ledger.deployment.start_block - 1 if last is None else last
            indexer["lag_blocks"] = max(head.number - position, 0)
        checks["indexer"] = indexer
    except Exception as exc:
        checks["indexer"] = {"ok": False, "error": str(exc)}

    relayer = runtime.relayer.health()
    stuck_after = max(
        settings.relayer_stuck_after,
        (settings.confirmations + settings.stall_blocks) * settings.expected_block_time,
    )
    in_flight: int | None
    try:
        in_flight, oldest = _in_flight(runtime)
    except Exception:  # the database check above already says why
        in_flight, oldest = None, None
    blocked = oldest is not None and oldest > stuck_after
    checks["relayer"] = {
        "ok": not blocked,
        "in_flight": in_flight,
        "oldest_in_flight_seconds": None if oldest is None else round(oldest, 3),
        "chain_nonce": relayer.chain_nonce,
        "next_nonce": relayer.next_nonce,
        "reorged": relayer.reorged_total,
        "nonce_gaps_filled": relayer.gaps_filled_total,
        "last_error": relayer.last_error,
    }
    if blocked:
        reasons.append("relayer-blocked")
        checks["relayer"]["error"] = (
            f"a sent transaction has waited {oldest:.0f} s "
            f"(more than {stuck_after:.0f} s) without settling"
        )
    return Readiness(reasons=tuple(reasons), checks=checks)


def _in_flight(runtime: Runtime) -> tuple[int, float | None]:
    """Operations sent and not settled, and the age of the oldest (seconds), from the outbox:
    the same answer whichever process asks."""
    with Session(runtime.engine) as session:
        count, oldest = session.exec(
            select(func.count(), func.min(Operation.updated_at)).where(
                Operation.status == OperationStatus.SUBMITTED
            )
        ).one()
    if oldest is None:
        return int(count), None
    oldest = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
    return int(count), max((datetime.now(UTC) - oldest).total_seconds(), 0.0)
