"""The service's records of batched registrations and the batches that anchor them.

These are not index tables: the chain holds only each batch's root, so the records behind a
root exist here and in the proof bundles handed out, nowhere else. ``provledger reindex``
therefore leaves them alone, and the indexer joins them to the ``BatchAnchored`` events it
reads, which is how batched versions appear in the index beside on-chain ones.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from ledger.anchoring.records import BatchRecord
from ledger.merkle import InclusionProof
from ledger.relayer.models import new_operation_id


class RecordStatus(enum.StrEnum):
    QUEUED = "queued"  # acknowledged, waiting for its batch to be flushed
    BATCHED = "batched"  # in a batch; where it stands is the batch's anchor operation's status
    FAILED = "failed"  # its batch's anchor transaction failed; error_* say why


def _now() -> datetime:
    return datetime.now(UTC)


class QueuedRecord(SQLModel, table=True):
    """One batched registration, from acknowledgement to its leaf in an anchored batch.

    ``id`` is the operation id the client was given: ``GET /v1/operations/{id}`` answers for it
    as for any write. A dataset's versions are numbered here, in queue order; the partial unique
    index keeps two live records from taking the same number.
    """

    __tablename__ = "anchor_queued_records"
    __table_args__ = (
        Index(
            "uq_anchor_queued_records_version",
            "dataset_id",
            "version",
            unique=True,
            sqlite_where=text("status != 'failed'"),
            postgresql_where=text("status != 'failed'"),
        ),
        Index("ix_anchor_queued_records_pending", "department_id", "status", "seq"),
        # Verification asks whether a batched dataset was withdrawn by a later record.
        Index("ix_anchor_queued_records_dataset_kind", "dataset_id", "kind"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(default_factory=new_operation_id, unique=True, max_length=40)
    kind: str = Field(max_length=16)
    department_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    dataset_id: str = Field(max_length=66)
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_hash: str = Field(max_length=66, index=True)
    digest: str = Field(max_length=66)
    record: str = Field(sa_column=Column(Text, nullable=False))  # BatchRecord.to_json()
    result: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # shown to the client
    status: str = Field(default=RecordStatus.QUEUED, max_length=16)
    batch_root: str | None = Field(default=None, max_length=66, index=True)
    leaf_index: int | None = Field(default=None, sa_column=Column(BigInteger))
    proof: str | None = Field(default=None, sa_column=Column(Text))  # JSON list of 0x-hex
    error_code: str | None = None
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    def batch_record(self) -> BatchRecord:
        return BatchRecord.from_json(json.loads(self.record))

    def inclusion_proof(self, tree_size: int) -> InclusionProof | None:
        if self.proof is None or self.leaf_index is None:
            return None
        hashes = tuple(bytes.fromhex(h[2:]) for h in json.loads(self.proof))
        return InclusionProof(index=self.leaf_index, tree_size=tree_size, hashes=hashes)

    def result_data(self) -> dict[str, Any]:
        return dict(json.loads(self.result))


class AnchorBatch(SQLModel, table=True):
    """A flushed batch: its root, its size and the operation that anchors it."""

    __tablename__ = "anchor_batches"

    root: str = Field(primary_key=True, max_length=66)
    department_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    operation_id: str = Field(max_length=40, index=True)
    # True once a failed anchor has been passed on to its records (they are FAILED).
    settled: bool = False
    created_at: datetime = Field(default_factory=_now)
