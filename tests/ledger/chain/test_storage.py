"""State read from storage, as the compiler laid it out, is what the contracts' views answer:
every member of a dataset and of an anchor, in every state they pass through, absent included.
A contract change that moves a member or adds a kind of value this reader does not understand
fails here, by name."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ledger.artifacts import load_artifact
from ledger.chain.deploy import Ledger
from ledger.chain.storage import struct_mapping
from ledger.chain.types import Classification, NewVersion, VersionRef
from ledger.errors import ArtifactError
from ledger.merkle import MerkleTree


def viewed_dataset(ledger: Ledger, dataset_id: bytes) -> tuple[Any, ...]:
    return tuple(ledger.datasets.contract.functions.dataset(dataset_id).call())


def stored_dataset(ledger: Ledger, dataset_id: bytes) -> tuple[Any, ...]:
    record = ledger.datasets.dataset(dataset_id)
    return (
        record.owner,
        record.version_count,
        int(record.classification),
        record.withdrawn,
        record.created_at,
        record.history_head,
    )


def test_a_dataset_reads_the_same_from_storage_as_from_its_view_in_every_state(
    ledger: Ledger, actors: Any
) -> None:
    salt = os.urandom(32)
    dataset_id = ledger.datasets.dataset_id_of(1, salt)
    assert stored_dataset(ledger, dataset_id) == viewed_dataset(ledger, dataset_id)  # absent

    first = NewVersion(os.urandom(32), os.urandom(32), ())
    ledger.datasets.create_dataset(
        salt, Classification.CONFIDENTIAL, os.urandom(32), first, sender=actors.dept_a
    )
    created = stored_dataset(ledger, dataset_id)
    assert created == viewed_dataset(ledger, dataset_id)
    assert created[0] == 1 and created[1] == 1 and created[3] is False

    second = NewVersion(os.urandom(32), os.urandom(32), (VersionRef(dataset_id, 1),))
    ledger.datasets.add_version(dataset_id, second, sender=actors.dept_a)
    assert stored_dataset(ledger, dataset_id) == viewed_dataset(ledger, dataset_id)
    assert stored_dataset(ledger, dataset_id)[5] != created[5]  # the history head moved

    ledger.datasets.withdraw_dataset(dataset_id, sender=actors.dept_a)
    withdrawn = stored_dataset(ledger, dataset_id)
    assert withdrawn == viewed_dataset(ledger, dataset_id) and withdrawn[3] is True


def test_a_dataset_is_read_as_it_stood_at_an_earlier_block(ledger: Ledger, actors: Any) -> None:
    salt = os.urandom(32)
    dataset_id = ledger.datasets.dataset_id_of(1, salt)
    receipt = ledger.datasets.create_dataset(
        salt,
        Classification.PUBLIC,
        os.urandom(32),
        NewVersion(os.urandom(32), os.urandom(32), ()),
        sender=actors.dept_a,
    )
    ledger.datasets.withdraw_dataset(dataset_id, sender=actors.dept_a)
    assert ledger.datasets.dataset(dataset_id).withdrawn is True
    assert ledger.datasets.dataset(dataset_id, block=receipt.block_number).withdrawn is False
    before = ledger.datasets.dataset(dataset_id, block=receipt.block_number - 1)
    assert not before.exists


def test_an_anchor_reads_the_same_from_storage_as_from_its_view(
    ledger: Ledger, actors: Any
) -> None:
    tree = MerkleTree([os.urandom(32) for _ in range(5)])
    view = ledger.anchors.contract.functions.anchor
    absent = ledger.anchors.anchor(tree.root)
    assert (absent.department, absent.size, absent.anchored_at) == tuple(view(tree.root).call())

    ledger.anchors.anchor_batch(tree.root, tree.size, sender=actors.dept_b)
    anchor = ledger.anchors.anchor(tree.root)
    assert (anchor.department, anchor.size, anchor.anchored_at) == tuple(view(tree.root).call())
    assert (anchor.department, anchor.size) == (2, 5) and anchor.anchored_at > 0


LAYOUT: dict[str, Any] = {
    "storage": [
        {"label": "_count", "slot": "0", "offset": 0, "type": "t_uint256"},
        {"label": "_things", "slot": "1", "offset": 0, "type": "t_mapping(t_bytes32,t_struct)"},
        {"label": "_plain", "slot": "2", "offset": 0, "type": "t_mapping(t_bytes32,t_uint256)"},
    ],
    "types": {
        "t_uint256": {"encoding": "inplace", "label": "uint256", "numberOfBytes": "32"},
        "t_bytes32": {"encoding": "inplace", "label": "bytes32", "numberOfBytes": "32"},
        "t_string": {"encoding": "bytes", "label": "string", "numberOfBytes": "32"},
        "t_struct": {
            "encoding": "inplace",
            "label": "struct Thing",
            "numberOfBytes": "64",
            "members": [
                {"label": "count", "slot": "0", "offset": 0, "type": "t_uint256"},
                {"label": "name", "slot": "1", "offset": 0, "type": "t_string"},
            ],
        },
        "t_mapping(t_bytes32,t_struct)": {
            "encoding": "mapping",
            "key": "t_bytes32",
            "value": "t_struct",
            "label": "mapping(bytes32 => struct Thing)",
            "numberOfBytes": "32",
        },
        "t_mapping(t_bytes32,t_uint256)": {
            "encoding": "mapping",
            "key": "t_bytes32",
            "value": "t_uint256",
            "label": "mapping(bytes32 => uint256)",
            "numberOfBytes": "32",
        },
    },
}


@pytest.mark.parametrize(
    ("variable", "problem"),
    [
        ("_missing", "no single state variable '_missing'"),
        ("_count", "'_count' is not a mapping"),
        ("_plain", "the values of '_plain' are not structs"),
        ("_things", "_things.name is a string: only value types"),
    ],
)
def test_what_the_reader_does_not_understand_is_refused_by_name(
    variable: str, problem: str
) -> None:
    with pytest.raises(ArtifactError, match=problem):
        struct_mapping(LAYOUT, variable)


def test_the_artifacts_carry_the_layouts_the_clients_read() -> None:
    datasets = struct_mapping(load_artifact("DatasetRegistry").storage_layout, "_datasets")
    assert [m.name for m in datasets.members] == [
        "owner",
        "versionCount",
        "classification",
        "withdrawn",
        "createdAt",
        "historyHead",
    ]
    assert [m.slot for m in datasets.members] == [0, 0, 0, 0, 0, 1]  # five packed, then the head
    anchors = struct_mapping(load_artifact("AnchorRegistry").storage_layout, "_anchors")
    assert [(m.name, m.size) for m in anchors.members] == [
        ("department", 8),
        ("size", 8),
        ("anchoredAt", 8),
    ]
    requests = struct_mapping(load_artifact("AccessRegistry").storage_layout, "_requests")
    assert [(m.name, m.slot) for m in requests.members] == [
        ("datasetId", 0),
        ("requester", 1),
        ("status", 1),
        ("requestedDuration", 1),
        ("expiresAt", 1),
        ("eventCount", 1),  # packed with the members every transition writes: nearly free
        ("historyHead", 2),
    ]


def test_a_value_of_a_mapping_is_found_where_solidity_puts_it_and_anything_else_refused() -> None:
    from eth_utils import keccak

    from ledger.chain.storage import value_slot

    key = b"\x01" * 32
    assert value_slot(LAYOUT, "_plain", key) == int.from_bytes(
        keccak(key + (2).to_bytes(32, "big")), "big"
    )
    for variable, keys, problem in [
        ("_count", (key,), "'_count' is not a mapping 1 keys deep"),
        ("_plain", (key, key), "'_plain' is not a mapping 2 keys deep"),
        ("_things", (key,), "the values of '_things' are not one-word value types"),
    ]:
        with pytest.raises(ArtifactError, match=problem):
            value_slot(LAYOUT, variable, *keys)
