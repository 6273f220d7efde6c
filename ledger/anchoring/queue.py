"""Queueing batched registrations: the state of a batched dataset, and the insert itself.

A batched dataset lives in the service's records until its batch is anchored, and its
versions are numbered here in queue order. Everything the contract would check for an on-chain
registration (owner, not withdrawn, parents exist, version numbers in sequence) is checked here
before a record is acknowledged, because no contract sees the record itself: it only sees the
root its department signs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from ledger.anchoring.models import AnchorBatch, QueuedRecord, RecordStatus
from ledger.anchoring.records import BatchRecord, RecordKind
from ledger.merkle import InclusionProof
from ledger.relayer.models import new_operation_id

_LIVE = (RecordStatus.QUEUED, RecordStatus.BATCHED)


@dataclass(frozen=True, slots=True)
class BatchedDataset:
    """A dataset created by a batched record, as the queue knows it (anchored or not yet)."""

    dataset_id: str
    owner: int
    version_count: int
    withdrawn: bool


def batched_dataset(session: Session, dataset_id: str) -> BatchedDataset | None:
    """The batched dataset ``dataset_id`` (0x-hex), or None if no live record created it."""
    return batched_datasets(session, [dataset_id]).get(dataset_id.lower())


def batched_datasets(session: Session, dataset_ids: Sequence[str]) -> dict[str, BatchedDataset]:
    """:func:`batched_dataset` for many ids in one query (bulk registration)."""
    wanted = list({d.lower() for d in dataset_ids})
    found: dict[str, BatchedDataset] = {}
    for start in range(0, len(wanted), 500):
        rows = session.exec(
            select(
                QueuedRecord.dataset_id,
                QueuedRecord.kind,
                QueuedRecord.department_id,
                QueuedRecord.version,
            ).where(
                col(QueuedRecord.dataset_id).in_(wanted[start : start + 500]),
                col(QueuedRecord.status).in_(_LIVE),
            )
        ).all()
        by_dataset: dict[str, list[tuple[str, int, int]]] = {}
        for dataset_id, kind, owner, version in rows:
            by_dataset.setdefault(dataset_id, []).append((kind, owner, version))
        for dataset_id, entries in by_dataset.items():
            owners = [o for k, o, _ in entries if k == RecordKind.CREATE.name.lower()]
            if owners:
                found[dataset_id] = BatchedDataset(
                    dataset_id=dataset_id,
                    owner=owners[0],
                    version_count=max(v for _, _, v in entries),
                    withdrawn=any(k == RecordKind.WITHDRAW.name.lower() for k, _, _ in entries),
                )
    return found


def batched_version_exists(session: Session, dataset_id: str, version: int) -> bool:
    """Whether a live batched record registered ``version`` of ``dataset_id``."""
    count = session.exec(
        select(func.count())
        .select_from(QueuedRecord)
        .where(
            QueuedRecord.dataset_id == dataset_id.lower(),
            QueuedRecord.version == version,
            QueuedRecord.kind != RecordKind.WITHDRAW.name.lower(),
            col(QueuedRecord.status).in_(_LIVE),
        )
    ).one()
    return bool(count)


def queue_records(
    session: Session, records: Sequence[tuple[BatchRecord, dict[str, Any]]]
) -> list[str]:
    """Insert ``(record, result shown to the client)`` pairs; returns their operation ids.

    One multi-row INSERT, not committed: the caller commits it with the request's other records
    (metadata documents, idempotency), which is what makes the registrations acknowledged. A
    version number taken concurrently by another request fails the commit on the partial unique
    index, and nothing of this request is kept.
    """
    now = datetime.now(UTC)
    rows = []
    for record, result in records:
        rows.append(
            {
                "id": new_operation_id(),
                "kind": record.kind.name.lower(),
                "department_id": record.department_id,
                "dataset_id": "0x" + record.dataset_id.hex(),
                "version": record.version,
                "content_hash": "0x" + record.content_hash.hex(),
                "digest": "0x" + record.digest().hex(),
                "record": json.dumps(record.to_json()),
                "result": json.dumps(result),
                "status": RecordStatus.QUEUED.value,
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        session.execute(insert(QueuedRecord), rows)
    return [str(row["id"]) for row in rows]


@dataclass(frozen=True, slots=True)
class AnchoredCandidate:
    """A batched record of some bytes whose batch was sent: what to prove against the chain."""

    record: BatchRecord
    proof: InclusionProof
    root: bytes
    withdrawn: bool


def anchored_candidates(session: Session, content_hash: str) -> list[AnchoredCandidate]:
    """This service's batched records of ``content_hash`` (0x-hex) that sit in a sent batch.

    Candidates only: the verifier proves each against the chain before anyone is told of it.
    """
    return anchored_candidates_of(session, [content_hash]).get(content_hash.lower(), [])


def anchored_candidates_of(
    session: Session, content_hashes: Sequence[str]
) -> dict[str, list[AnchoredCandidate]]:
    """:func:`anchored_candidates` of many content hashes, by 0x-hex hash (lowercase), a few
    queries per 500 hashes (bulk audits)."""
    wanted = list(dict.fromkeys(h.lower() for h in content_hashes))
    found: dict[str, list[AnchoredCandidate]] = {}
    for start in range(0, len(wanted), 500):
        # Columns, not ORM objects: a catalogue audit reads thousands of rows.
        rows = session.execute(
            sa_select(
                col(QueuedRecord.content_hash),
                col(QueuedRecord.dataset_id),
                col(QueuedRecord.record),
                col(QueuedRecord.proof),
                col(QueuedRecord.leaf_index),
                col(AnchorBatch.root),
                col(AnchorBatch.size),
            )
            .join(AnchorBatch, col(AnchorBatch.root) == col(QueuedRecord.batch_root))
            .where(
                col(QueuedRecord.content_hash).in_(wanted[start : start + 500]),
                col(QueuedRecord.status) == RecordStatus.BATCHED,
            )
            .order_by(col(QueuedRecord.seq))
        ).all()
        if not rows:
            continue
        withdrawn = set(
            session.exec(
                select(QueuedRecord.dataset_id).where(
                    col(QueuedRecord.dataset_id).in_({row[1] for row in rows}),
                    QueuedRecord.kind == RecordKind.WITHDRAW.name.lower(),
                    QueuedRecord.status == RecordStatus.BATCHED,
                )
            ).all()
        )
        for content_hash, dataset_id, record, proof, leaf_index, root, size in rows:
            if proof is None or leaf_index is None:
                continue
            found.setdefault(content_hash, []).append(
                AnchoredCandidate(
                    record=BatchRecord.from_json(json.loads(record)),
                    proof=InclusionProof(
                        index=leaf_index,
                        tree_size=size,
                        hashes=tuple(bytes.fromhex(h[2:]) for h in json.loads(proof)),
                    ),
                    root=bytes.fromhex(root[2:]),
                    withdrawn=dataset_id in withdrawn,
                )
            )
    return found


def batch_contents(session: Session, roots: list[str]) -> list[tuple[str, str]]:
    """(content hash, dataset id) of every record in the batches with these roots (0x-hex)."""
    rows = session.exec(
        select(QueuedRecord.content_hash, QueuedRecord.dataset_id).where(
            col(QueuedRecord.batch_root).in_(roots)
        )
    ).all()
    return [(content_hash, dataset_id) for content_hash, dataset_id in rows]
