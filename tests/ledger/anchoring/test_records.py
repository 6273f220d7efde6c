"""The batched record format: fixed-width, every field bound into the leaf, strict on input."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.anchoring.records import (
    FORMAT,
    FORMAT_COMMITMENT,
    BatchRecord,
    RecordKind,
    build_batch,
)
from ledger.errors import InvalidInputError
from ledger.merkle import record_leaf_hash, root_from_inclusion_proof

DATASET, CONTENT, META = b"\x11" * 32, b"\x22" * 32, b"\x33" * 32


def create(**changes: object) -> BatchRecord:
    fields: dict[str, object] = {
        "kind": RecordKind.CREATE,
        "department_id": 7,
        "dataset_id": DATASET,
        "version": 1,
        "content_hash": CONTENT,
        "metadata_hash": META,
        "classification": 2,
        "dataset_metadata_hash": META,
        "salt": b"\x44" * 32,
        "parents": ((b"\x55" * 32, 3),),
    }
    fields.update(changes)
    return BatchRecord(**fields)  # type: ignore[arg-type]


def test_the_encoding_is_the_documented_fixed_width_layout() -> None:
    record = create()
    expected = (
        FORMAT
        + bytes([1])
        + struct.pack(">Q", 7)
        + DATASET
        + struct.pack(">I", 1)
        + CONTENT
        + META
        + bytes([2])
        + META
        + b"\x44" * 32
        + struct.pack(">H", 1)
        + b"\x55" * 32
        + struct.pack(">I", 3)
    )
    assert record.encode() == expected
    assert record.digest() == hashlib.sha256(expected).digest()
    assert hashlib.sha256(b"provledger.batch-record/1").digest() == FORMAT_COMMITMENT


@pytest.mark.parametrize(
    "change",
    [
        {"department_id": 8},
        {"dataset_id": b"\x12" * 32},
        {"content_hash": b"\x23" * 32},
        {"metadata_hash": b"\x34" * 32},
        {"classification": 3},
        {"dataset_metadata_hash": b"\x35" * 32},
        {"salt": b"\x45" * 32},
        {"parents": ((b"\x55" * 32, 4),)},
        {"parents": ()},
    ],
)
def test_every_field_changes_the_digest(change: dict[str, object]) -> None:
    assert create(**change).digest() != create().digest()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"version": 2}, "create record is version 1"),
        ({"content_hash": bytes(32)}, "create record"),
        ({"dataset_id": b"short"}, "dataset_id must be 32 bytes"),
        ({"department_id": 0}, "department id"),
        ({"classification": 4}, "classification"),
        ({"parents": ((DATASET, 0),)}, "bad parent"),
        ({"parents": tuple((DATASET, 1) for _ in range(65))}, "at most 64 parents"),
        ({"kind": RecordKind.VERSION, "version": 2}, "only a create record carries"),
        ({"kind": RecordKind.WITHDRAW, "version": 0}, "withdraw record"),
    ],
)
def test_malformed_records_are_refused(change: dict[str, object], complaint: str) -> None:
    with pytest.raises(InvalidInputError, match=complaint):
        create(**change)


def test_json_round_trips_and_rejects_garbage() -> None:
    record = create()
    assert BatchRecord.from_json(record.to_json()) == record
    broken = {**record.to_json(), "content_hash": "22" * 32}  # no 0x
    with pytest.raises(InvalidInputError, match="not a batch record"):
        BatchRecord.from_json(broken)
    with pytest.raises(InvalidInputError):
        BatchRecord.from_json({**record.to_json(), "kind": "delete"})


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70))
def test_every_record_of_a_batch_proves_against_its_root(digests: list[bytes]) -> None:
    batch = build_batch(digests)
    assert batch.size == len(digests)
    for digest, proof in zip(digests, batch.proofs, strict=True):
        computed = root_from_inclusion_proof(
            proof.index, proof.tree_size, record_leaf_hash(digest), proof.hashes
        )
        assert computed == batch.root


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        build_batch([])


def test_records_are_values() -> None:
    record = create()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.version = 2  # type: ignore[misc]
