"""The batcher: flushes each department's queued records into one signed, anchored root.

A department's queued records are flushed when there are ``max_records`` of them or the oldest
has waited ``max_age`` seconds. A flush builds the RFC 6962 tree over the records' digests,
stores every record's leaf index and inclusion proof, and queues one
``AnchorRegistry.anchorBatchBySig`` call signed by the department's custodial key, all in one
database transaction: a crash leaves either the records queued or the whole batch in the outbox.
From there the relayer takes the batch to the chain like any other write, and a record's status
is its batch's. If the anchor fails, its records fail with the anchor's error.

One anchor costs the same gas whatever the batch size (the size is one ``uint64`` argument), so
no transaction nears the per-transaction gas cap (EIP-7825's 16,777,216) at any batch size; the
size bound is the contract's ``MAX_BATCH_SIZE`` (2^32) and the memory of building the tree.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ledger.anchoring.models import AnchorBatch, QueuedRecord, RecordStatus
from ledger.anchoring.records import FORMAT_COMMITMENT, Batch, build_batch
from ledger.chain.deploy import Ledger
from ledger.errors import ChainUnavailableError, ContractRevertError, LedgerError
from ledger.merkle import InclusionProof
from ledger.relayer.actions import DepartmentAction, submit_department_action
from ledger.relayer.models import Operation, OperationStatus
from ledger.relayer.signatures import KeyProvider
from ledger.workers import run_until_stopped

log = logging.getLogger(__name__)

#: Largest batch the service builds: the contract allows 2^32, memory and proof size do not.
MAX_RECORDS_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class FlushReport:
    batches: int = 0
    records: int = 0
    failed: int = 0


class Batcher:
    """Turns queued records into anchor operations; one per department and flush.

    The schedule (``run``, ``tick``, which departments are due) is over ``_queue``, a table
    with ``department_id``, ``status`` and ``created_at``; a subclass batches another queue
    (delivery receipts: :class:`ledger.anchoring.receipts.ReceiptBatcher`)."""

    _queue: ClassVar[Any] = QueuedRecord
    _name: ClassVar[str] = "batcher"
    _format: ClassVar[bytes] = FORMAT_COMMITMENT  # the anchors' metadataHash

    def __init__(
        self,
        *,
        ledger: Ledger,
        engine: Engine,
        keys: KeyProvider,
        max_records: int = 1_000,
        max_age: float = 2.0,
    ):
        if not 1 <= max_records <= MAX_RECORDS_LIMIT:
            raise ValueError(f"max_records must be in 1..{MAX_RECORDS_LIMIT}, got {max_records}")
        self.ledger = ledger
        self.keys = keys
        self.engine = engine
        self.max_records = max_records
        self.max_age = max_age

    def run(self, stop: threading.Event, poll_interval: float = 0.2) -> None:
        """Tick until ``stop`` is set; chain outages are logged and waited out."""

        def busy() -> bool:
            report = self.tick()
            return bool(report.batches or report.failed)

        run_until_stopped(self._name, busy, stop, poll_interval)

    def tick(self, *, force: bool = False) -> FlushReport:
        """Flush every department whose batch is due (all of them with ``force``), then pass
        failed anchors on to their records."""
        batches = records = failed = 0
        for department_id in self._due(force=force):
            flushed, refused = self.flush(department_id)
            batches += bool(flushed)
            records += flushed
            failed += refused
        failed += self._settle_failures()
        return FlushReport(batches=batches, records=records, failed=failed)

    def _due(self, *, force: bool) -> list[int]:
        cutoff = datetime.now(UTC) - timedelta(seconds=self.max_age)
        queue = self._queue
        with Session(self.engine) as session:
            rows = session.exec(
                select(queue.department_id, func.count(), func.min(queue.created_at))
                .where(queue.status == RecordStatus.QUEUED.value)
                .group_by(col(queue.department_id))
            ).all()
        return [
            department_id
            for department_id, count, oldest in rows
            if force or count >= self.max_records or _aware(oldest) <= cutoff
        ]

    def flush(self, department_id: int) -> tuple[int, int]:
        """Batch up to ``max_records`` of the department's oldest queued records.

        Returns (records batched, records failed because the department cannot anchor now).
        """

        with Session(self.engine) as session:
            rows = session.exec(self._pending(department_id).limit(self.max_records)).all()
            if not rows:
                return 0, 0
            batch = build_batch([self._leaf(row) for row in rows])
            try:
                op = submit_anchor(
                    session, self.ledger, self.keys, department_id, batch, self._format
                )
            except ChainUnavailableError:
                raise
            except LedgerError as exc:
                # Suspended, or its key is no longer held: no anchor can be signed for these.
                code = exc.error_name if isinstance(exc, ContractRevertError) else exc.code
                for row in rows:
                    fail_row(row, code, exc.message)
                    session.add(row)
                session.commit()
                log.warning("%s: department %s cannot anchor: %s", self._name, department_id, exc)
                return 0, len(rows)
            self._batched(session, rows, batch, op)
            session.commit()
            log.info("%s: %d of department %s in %s", self._name, batch.size, department_id, op.id)
            return batch.size, 0

    def _pending(self, department_id: int) -> Any:
        """The department's queued rows, oldest first."""
        return (
            select(QueuedRecord)
            .where(
                QueuedRecord.department_id == department_id,
                QueuedRecord.status == RecordStatus.QUEUED,
            )
            .order_by(col(QueuedRecord.seq))
        )

    def _leaf(self, row: Any) -> bytes:
        """A queued row's record digest, its leaf in the tree."""
        return bytes.fromhex(row.digest[2:])

    def _batched(self, session: Session, rows: Sequence[Any], batch: Batch, op: Operation) -> None:
        """Keep the flushed batch and each row's place in it (not committed)."""
        root_hex = "0x" + batch.root.hex()
        session.add(
            AnchorBatch(
                root=root_hex,
                department_id=rows[0].department_id,
                size=batch.size,
                operation_id=op.id,
            )
        )
        # One executemany by primary key: a flush of 1,000 records is one round trip.
        session.execute(
            update(QueuedRecord),
            [
                {"seq": row.seq, "batch_root": root_hex, **placed(proof)}
                for row, proof in zip(rows, batch.proofs, strict=True)
            ],
        )

    def _settle_failures(self) -> int:
        """Records whose anchor failed become failed, with the anchor's error."""
        with Session(self.engine) as session:
            pairs = session.exec(
                select(AnchorBatch, Operation)
                .join(Operation, col(Operation.id) == col(AnchorBatch.operation_id))
                .where(
                    col(AnchorBatch.settled).is_(False),
                    Operation.status == OperationStatus.FAILED,
                )
            ).all()
            failed = 0
            for batch, op in pairs:
                rows = session.exec(
                    select(QueuedRecord).where(QueuedRecord.batch_root == batch.root)
                ).all()
                for row in rows:
                    fail_row(row, op.error_code or "anchor-failed", op.error_message or "")
                    session.add(row)
                batch.settled = True
                session.add(batch)
                failed += len(rows)
            session.commit()
        return failed


def submit_anchor(
    session: Session,
    ledger: Ledger,
    keys: KeyProvider,
    department_id: int,
    batch: Batch,
    metadata_hash: bytes,
) -> Operation:
    """Queue (not committed) the ``anchorBatchBySig`` of ``batch``'s root, signed by the
    department's custodial key; ``metadata_hash`` names the leaves' format."""
    anchor = DepartmentAction(
        client=ledger.anchors,
        action_type="AnchorBatch",
        fields={"root": batch.root, "size": batch.size, "metadataHash": metadata_hash},
        function="anchorBatchBySig",
        call_args=lambda auth: [batch.root, batch.size, metadata_hash, auth.as_abi()],
        kind="anchors.batch",
    )
    return submit_department_action(
        session,
        ledger,
        keys,
        department_id,
        anchor,
        result={"root": "0x" + batch.root.hex(), "size": batch.size},
    )


def placed(proof: InclusionProof) -> dict[str, Any]:
    """The columns of a row batched at ``proof``'s leaf."""
    return {
        "status": RecordStatus.BATCHED.value,
        "leaf_index": proof.index,
        "proof": json.dumps(["0x" + h.hex() for h in proof.hashes]),
        "updated_at": datetime.now(UTC),
    }


def fail_row(row: Any, code: str, message: str) -> None:
    """A queued or batched row (record or receipt) failed, with its anchor's error."""
    row.status = RecordStatus.FAILED
    row.error_code = code
    row.error_message = message
    row.updated_at = datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back naive; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
