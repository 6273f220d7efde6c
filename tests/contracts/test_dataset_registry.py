"""Specification of DatasetRegistry: datasets, their append-only versions and their lineage.

Every expectation here comes from ``contracts/interfaces/IDatasetRegistry.sol``; the history
head is recomputed in Python from the ``VersionAdded`` events alone, the way an auditor would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.chain.backend import Chain, Receipt
from ledger.chain.clients import DatasetRegistryClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import ZERO32, Classification, Event, NewVersion, VersionRef
from ledger.errors import (
    DatasetAlreadyExistsError,
    DatasetInvalidClassificationError,
    DatasetIsWithdrawnError,
    DatasetNotOwnerError,
    DatasetTooManyParentsError,
    DatasetUnknownError,
    DatasetUnknownParentError,
    DatasetZeroContentHashError,
    DepartmentInactiveError,
    DepartmentUnknownSignerError,
    EnforcedPauseError,
)

# --- shared helpers ------------------------------------------------------------------------

DEPT_A = 1
DEPT_B = 2
DEPT_C = 3

VERSION_REF_TYPEHASH = keccak(text="VersionRef(bytes32 datasetId,uint32 version)")
VERSION_ADDED_TOPIC = keccak(
    text="VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
)
DATASET_CREATED_TOPIC = keccak(text="DatasetCreated(bytes32,uint64,bytes32,uint8,bytes32)")


def digest(label: str) -> bytes:
    """A distinct 32-byte stand-in for a SHA-256 digest."""
    return keccak(text=label)


def hex32(value: bytes) -> str:
    """How decoded revert arguments spell a bytes32."""
    return "0x" + bytes(value).hex()


def topic_of_int(value: int) -> bytes:
    return value.to_bytes(32, "big")


def parents_hash(parents: Iterable[tuple[bytes, int]]) -> bytes:
    """EIP-712 hash of a ``VersionRef[]``: keccak of the concatenated struct hashes."""
    return keccak(
        b"".join(
            keccak(abi_encode(["bytes32", "bytes32", "uint32"], [VERSION_REF_TYPEHASH, d, v]))
            for d, v in parents
        )
    )


def next_head(
    previous: bytes, content: bytes, metadata: bytes, parents: Iterable[tuple[bytes, int]]
) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "bytes32"],
            [previous, content, metadata, parents_hash(parents)],
        )
    )


def event_parents(event: Event) -> list[tuple[bytes, int]]:
    return [(bytes(p["datasetId"]), int(p["version"])) for p in event.args["parents"]]


def replay_head(events: Sequence[Event]) -> bytes:
    """The history head recomputed from a dataset's ``VersionAdded`` events, in order."""
    head = ZERO32
    for event in events:
        head = next_head(
            head, event.args["contentHash"], event.args["metadataHash"], event_parents(event)
        )
    return head


def named(events: Iterable[Event], name: str) -> list[Event]:
    return [e for e in events if e.name == name]


def receipt_events(client: DatasetRegistryClient, receipt: Receipt, name: str) -> list[Event]:
    return named(client.decode_events(receipt.logs), name)


def version_logs(ledger: Ledger, dataset_id: bytes) -> list[Event]:
    """Every ``VersionAdded`` of ``dataset_id``, read back from the node with ``eth_getLogs``."""
    logs = ledger.chain.w3.eth.get_logs(
        {
            "address": ledger.datasets.address,
            "fromBlock": ledger.deployment.start_block,
            "toBlock": "latest",
            "topics": [hex32(VERSION_ADDED_TOPIC), hex32(dataset_id)],
        }
    )
    return named(ledger.datasets.decode_events(logs), "VersionAdded")


def create(
    ledger: Ledger,
    owner: LocalAccount,
    label: str,
    *,
    department_id: int,
    classification: Classification = Classification.INTERNAL,
    content: bytes | None = None,
    parents: Sequence[VersionRef] = (),
) -> bytes:
    """Create a dataset with salt ``label`` directly; its id."""
    first = NewVersion(
        content or digest(f"{label}/content/1"), digest(f"{label}/meta/1"), tuple(parents)
    )
    ledger.datasets.create_dataset(
        digest(label), classification, digest(f"{label}/meta"), first, sender=owner
    )
    return DatasetRegistryClient.dataset_id_of(department_id, digest(label))


def add(
    ledger: Ledger,
    owner: LocalAccount,
    dataset_id: bytes,
    label: str,
    parents: Sequence[VersionRef] = (),
) -> Receipt:
    version = NewVersion(digest(f"{label}/content"), digest(f"{label}/meta"), tuple(parents))
    return ledger.datasets.add_version(dataset_id, version, sender=owner)


def block_timestamp(chain: Chain, block_number: int) -> int:
    return int(chain.w3.eth.get_block(block_number)["timestamp"])


@pytest.fixture
def dataset_a(ledger: Ledger, actors: Any) -> bytes:
    """A dataset owned by department A, with one version."""
    return create(ledger, actors.dept_a, "dataset-a", department_id=DEPT_A)


# --- creating a dataset ----------------------------------------------------------------------


def test_create_dataset_stores_owner_classification_creation_time_and_first_version(
    ledger: Ledger, actors: Any
) -> None:
    salt = digest("census-2031")
    first = NewVersion(digest("census bytes"), digest("census metadata"))

    receipt = ledger.datasets.create_dataset(
        salt, Classification.RESTRICTED, digest("dataset metadata"), first, sender=actors.dept_a
    )

    record = ledger.datasets.dataset(DatasetRegistryClient.dataset_id_of(DEPT_A, salt))
    assert record.exists
    assert record.owner == DEPT_A
    assert record.version_count == 1
    assert record.classification is Classification.RESTRICTED
    assert record.withdrawn is False
    assert record.created_at == block_timestamp(ledger.chain, receipt.block_number)
    assert record.history_head == next_head(ZERO32, first.content_hash, first.metadata_hash, [])


def test_dataset_id_is_derived_from_the_creating_department_and_the_salt(
    ledger: Ledger, actors: Any
) -> None:
    salt = digest("salt")
    receipt = ledger.datasets.create_dataset(
        salt, Classification.PUBLIC, ZERO32, NewVersion(digest("x")), sender=actors.dept_a
    )

    (created,) = receipt_events(ledger.datasets, receipt, "DatasetCreated")
    on_chain = ledger.datasets.contract.functions.datasetIdOf(DEPT_A, salt).call()
    assert bytes(created.args["datasetId"]) == bytes(on_chain)
    assert bytes(on_chain) == DatasetRegistryClient.dataset_id_of(DEPT_A, salt)
    assert bytes(on_chain) == keccak(abi_encode(["uint64", "bytes32"], [DEPT_A, salt]))
    # Another department's id for the same salt differs: no one can squat A's id.
    assert DatasetRegistryClient.dataset_id_of(DEPT_B, salt) != bytes(on_chain)
    assert bytes(ledger.datasets.contract.functions.datasetIdOf(DEPT_B, salt).call()) == (
        DatasetRegistryClient.dataset_id_of(DEPT_B, salt)
    )


def test_create_dataset_emits_dataset_created_then_version_added_with_version_1(
    ledger: Ledger, actors: Any
) -> None:
    salt = digest("roads")
    first = NewVersion(digest("roads bytes"), digest("roads v1 metadata"))

    receipt = ledger.datasets.create_dataset(
        salt, Classification.CONFIDENTIAL, digest("roads metadata"), first, sender=actors.dept_b
    )

    dataset_id = DatasetRegistryClient.dataset_id_of(DEPT_B, salt)
    events = ledger.datasets.decode_events(receipt.logs)
    assert [e.name for e in events] == ["DatasetCreated", "VersionAdded"]
    created, added = events
    assert created.args == {
        "datasetId": dataset_id,
        "owner": DEPT_B,
        "salt": salt,
        "classification": int(Classification.CONFIDENTIAL),
        "metadataHash": digest("roads metadata"),
    }
    assert added.args["datasetId"] == dataset_id
    assert added.args["contentHash"] == first.content_hash
    assert added.args["department"] == DEPT_B
    assert added.args["version"] == 1
    assert added.args["metadataHash"] == first.metadata_hash
    assert added.args["parents"] == []
    assert added.args["historyHead"] == ledger.datasets.dataset(dataset_id).history_head


def test_version_added_indexes_dataset_id_content_hash_and_department_as_topics(
    ledger: Ledger, actors: Any
) -> None:
    salt = digest("indexed")
    content = digest("indexed bytes")
    receipt = ledger.datasets.create_dataset(
        salt, Classification.PUBLIC, ZERO32, NewVersion(content), sender=actors.dept_c
    )

    dataset_id = DatasetRegistryClient.dataset_id_of(DEPT_C, salt)
    by_topic0 = {bytes(log["topics"][0]): log for log in receipt.logs}
    added = by_topic0[VERSION_ADDED_TOPIC]
    assert [bytes(t) for t in added["topics"]] == [
        VERSION_ADDED_TOPIC,
        dataset_id,
        content,
        topic_of_int(DEPT_C),
    ]
    created = by_topic0[DATASET_CREATED_TOPIC]
    assert [bytes(t) for t in created["topics"]] == [
        DATASET_CREATED_TOPIC,
        dataset_id,
        topic_of_int(DEPT_C),
    ]


@pytest.mark.parametrize("classification", list(Classification))
def test_every_classification_from_public_to_confidential_is_accepted(
    ledger: Ledger, actors: Any, classification: Classification
) -> None:
    dataset_id = create(
        ledger,
        actors.dept_a,
        f"class-{classification.name}",
        department_id=DEPT_A,
        classification=classification,
    )

    assert ledger.datasets.dataset(dataset_id).classification is classification


def test_create_dataset_by_signature_is_owned_by_the_signing_department_not_the_relayer(
    ledger: Ledger, actors: Any, deadline: int
) -> None:
    salt = digest("relayed")
    first = NewVersion(digest("relayed bytes"), digest("relayed v1"))
    nonce = ledger.datasets.department_nonce(DEPT_A)
    auth = ledger.datasets.sign_create_dataset(
        salt,
        Classification.INTERNAL,
        digest("relayed meta"),
        first,
        signer=actors.dept_a,
        department_id=DEPT_A,
        deadline=deadline,
    )

    receipt = ledger.datasets.create_dataset_by_sig(
        salt,
        Classification.INTERNAL,
        digest("relayed meta"),
        first,
        auth=auth,
        sender=actors.relayer,
    )

    dataset_id = DatasetRegistryClient.dataset_id_of(DEPT_A, salt)
    record = ledger.datasets.dataset(dataset_id)
    assert record.owner == DEPT_A
    assert record.version_count == 1
    assert record.classification is Classification.INTERNAL
    assert ledger.departments.department_of(actors.relayer.address) == 0
    created, added = ledger.datasets.decode_events(receipt.logs)
    assert (created.name, created.args["datasetId"], created.args["owner"]) == (
        "DatasetCreated",
        dataset_id,
        DEPT_A,
    )
    assert (added.name, added.args["version"], added.args["department"]) == (
        "VersionAdded",
        1,
        DEPT_A,
    )
    assert ledger.datasets.department_nonce(DEPT_A) == nonce + 1


def test_the_same_salt_gives_each_department_its_own_dataset(ledger: Ledger, actors: Any) -> None:
    dataset_a = create(ledger, actors.dept_a, "shared-salt", department_id=DEPT_A)
    dataset_b = create(ledger, actors.dept_b, "shared-salt", department_id=DEPT_B)

    assert dataset_a != dataset_b
    assert ledger.datasets.dataset(dataset_a).owner == DEPT_A
    assert ledger.datasets.dataset(dataset_b).owner == DEPT_B


def test_the_first_version_may_derive_from_another_departments_dataset(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    derived = create(
        ledger, actors.dept_b, "derived", department_id=DEPT_B, parents=[VersionRef(dataset_a, 1)]
    )

    (added,) = version_logs(ledger, derived)
    assert event_parents(added) == [(dataset_a, 1)]
    assert ledger.datasets.dataset(derived).history_head == next_head(
        ZERO32, added.args["contentHash"], added.args["metadataHash"], [(dataset_a, 1)]
    )


def test_an_unknown_dataset_reads_as_an_empty_record(ledger: Ledger) -> None:
    record = ledger.datasets.dataset(digest("nobody made this"))

    assert not record.exists
    assert (record.owner, record.version_count, record.withdrawn, record.history_head) == (
        0,
        0,
        False,
        ZERO32,
    )
    assert ledger.datasets.version_exists(digest("nobody made this"), 1) is False


# --- appending versions ------------------------------------------------------------------


def test_versions_are_numbered_1_2_3_in_the_order_they_are_appended(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    second = add(ledger, actors.dept_a, dataset_a, "v2")
    third = add(ledger, actors.dept_a, dataset_a, "v3")

    assert [e.args["version"] for e in receipt_events(ledger.datasets, second, "VersionAdded")] == [
        2
    ]
    assert [e.args["version"] for e in receipt_events(ledger.datasets, third, "VersionAdded")] == [
        3
    ]
    assert ledger.datasets.dataset(dataset_a).version_count == 3
    assert [e.args["version"] for e in version_logs(ledger, dataset_a)] == [1, 2, 3]
    assert [ledger.datasets.version_exists(dataset_a, n) for n in range(5)] == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_add_version_returns_the_number_of_the_new_version(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    add(ledger, actors.dept_a, dataset_a, "v2")
    call = ledger.datasets.contract.functions.addVersion(
        dataset_a, NewVersion(digest("v3")).as_abi()
    )

    assert call.call({"from": actors.dept_a.address}) == 3


def test_add_version_by_signature_appends_for_the_signing_department(
    ledger: Ledger, actors: Any, dataset_a: bytes, deadline: int
) -> None:
    version = NewVersion(digest("signed v2"), digest("signed v2 meta"), (VersionRef(dataset_a, 1),))
    auth = ledger.datasets.sign_add_version(
        dataset_a, version, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )

    receipt = ledger.datasets.add_version_by_sig(
        dataset_a, version, auth=auth, sender=actors.relayer
    )

    (added,) = receipt_events(ledger.datasets, receipt, "VersionAdded")
    assert (added.args["version"], added.args["department"]) == (2, DEPT_A)
    assert added.args["contentHash"] == version.content_hash
    assert ledger.datasets.dataset(dataset_a).version_count == 2


def test_a_version_may_derive_from_another_departments_dataset(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    dataset_b = create(ledger, actors.dept_b, "dataset-b", department_id=DEPT_B)

    receipt = add(
        ledger,
        actors.dept_b,
        dataset_b,
        "b-v2",
        parents=[VersionRef(dataset_a, 1), VersionRef(dataset_b, 1)],
    )

    (added,) = receipt_events(ledger.datasets, receipt, "VersionAdded")
    assert event_parents(added) == [(dataset_a, 1), (dataset_b, 1)]
    # Naming A's dataset as a parent changes nothing in A's dataset.
    assert ledger.datasets.dataset(dataset_a).version_count == 1


def test_a_version_may_derive_from_earlier_versions_of_its_own_dataset(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    add(ledger, actors.dept_a, dataset_a, "v2")
    receipt = add(
        ledger,
        actors.dept_a,
        dataset_a,
        "v3",
        parents=[VersionRef(dataset_a, 1), VersionRef(dataset_a, 2)],
    )

    (added,) = receipt_events(ledger.datasets, receipt, "VersionAdded")
    assert added.args["version"] == 3
    assert event_parents(added) == [(dataset_a, 1), (dataset_a, 2)]


def test_the_same_content_may_be_appended_twice_to_one_dataset(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    same = NewVersion(digest("same bytes"))
    ledger.datasets.add_version(dataset_a, same, sender=actors.dept_a)
    ledger.datasets.add_version(dataset_a, same, sender=actors.dept_a)

    events = version_logs(ledger, dataset_a)
    assert [e.args["version"] for e in events] == [1, 2, 3]
    assert events[1].args["contentHash"] == events[2].args["contentHash"] == same.content_hash
    assert events[1].args["historyHead"] != events[2].args["historyHead"]


# --- the history head: append-only hash chain ----------------------------------------------


def test_history_head_is_the_hash_chain_over_the_version_added_events(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    dataset_b = create(ledger, actors.dept_b, "dataset-b", department_id=DEPT_B)
    add(ledger, actors.dept_a, dataset_a, "v2", parents=[VersionRef(dataset_a, 1)])
    add(
        ledger,
        actors.dept_a,
        dataset_a,
        "v3",
        parents=[VersionRef(dataset_b, 1), VersionRef(dataset_a, 2)],
    )
    add(ledger, actors.dept_a, dataset_a, "v4")

    events = version_logs(ledger, dataset_a)
    assert [e.args["version"] for e in events] == [1, 2, 3, 4]
    head = ZERO32
    for event in events:
        head = next_head(
            head, event.args["contentHash"], event.args["metadataHash"], event_parents(event)
        )
        assert event.args["historyHead"] == head  # every event carries the head after it
    assert ledger.datasets.dataset(dataset_a).history_head == head == replay_head(events)


def test_a_version_list_with_one_version_missing_does_not_reach_the_stored_head(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    add(ledger, actors.dept_a, dataset_a, "v2")
    add(ledger, actors.dept_a, dataset_a, "v3")

    events = version_logs(ledger, dataset_a)
    stored = ledger.datasets.dataset(dataset_a).history_head
    assert replay_head(events) == stored
    for missing in range(len(events)):
        assert replay_head(events[:missing] + events[missing + 1 :]) != stored
    assert replay_head([events[1], events[0], events[2]]) != stored


def test_history_head_commits_to_the_parents_of_each_version(ledger: Ledger, actors: Any) -> None:
    base = create(ledger, actors.dept_a, "base", department_id=DEPT_A)
    same_content = digest("same content")
    plain = create(ledger, actors.dept_b, "plain", department_id=DEPT_B, content=same_content)
    derived = create(
        ledger,
        actors.dept_c,
        "plain",
        department_id=DEPT_C,
        content=same_content,
        parents=[VersionRef(base, 1)],
    )

    # Same content and metadata; only the lineage differs.
    assert (
        version_logs(ledger, plain)[0].args["metadataHash"]
        == version_logs(ledger, derived)[0].args["metadataHash"]
    )
    assert (
        ledger.datasets.dataset(plain).history_head != ledger.datasets.dataset(derived).history_head
    )


_APPEND = st.tuples(
    st.integers(min_value=0, max_value=2),  # which dataset (0, 1 owned by A, 2 owned by B)
    st.binary(min_size=1, max_size=4),  # content (hashed, so never zero)
    st.booleans(),  # metadata hash zero or not
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6)), max_size=3),  # parents
    st.booleans(),  # by signature (relayed) rather than sent directly
)


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(appends=st.lists(_APPEND, min_size=1, max_size=6))
def test_random_append_sequences_keep_versions_contiguous_immutable_and_chained(
    ledger: Ledger, actors: Any, appends: list[Any]
) -> None:
    chain = ledger.chain
    snapshot = chain.snapshot()  # the fixture isolates the test, not each example
    try:
        owners = [(actors.dept_a, DEPT_A), (actors.dept_a, DEPT_A), (actors.dept_b, DEPT_B)]
        datasets = [
            create(ledger, key, f"prop-{i}", department_id=dept)
            for i, (key, dept) in enumerate(owners)
        ]
        # The model: per dataset, the (content, metadata, parents) of every version, in order.
        model: list[list[tuple[bytes, bytes, list[tuple[bytes, int]]]]] = [
            [(e.args["contentHash"], e.args["metadataHash"], [])]
            for d in datasets
            for e in version_logs(ledger, d)
        ]
        for which, content, with_meta, parent_picks, by_sig in appends:
            parents = [(datasets[d], 1 + pick % len(model[d])) for d, pick in parent_picks]
            version = NewVersion(
                keccak(content),
                keccak(b"meta" + content) if with_meta else ZERO32,
                tuple(VersionRef(d, n) for d, n in parents),
            )
            key, dept = owners[which]
            if by_sig:
                auth = ledger.datasets.sign_add_version(
                    datasets[which],
                    version,
                    signer=key,
                    department_id=dept,
                    deadline=chain.block_time() + 3600,
                )
                receipt = ledger.datasets.add_version_by_sig(
                    datasets[which], version, auth=auth, sender=actors.relayer
                )
            else:
                receipt = ledger.datasets.add_version(datasets[which], version, sender=key)
            (added,) = receipt_events(ledger.datasets, receipt, "VersionAdded")
            model[which].append((version.content_hash, version.metadata_hash, parents))
            assert added.args["version"] == len(model[which])
            assert added.args["department"] == dept

        for dataset_id, versions in zip(datasets, model, strict=True):
            events = version_logs(ledger, dataset_id)
            record = ledger.datasets.dataset(dataset_id)
            # Contiguous from 1, and the count agrees.
            assert [e.args["version"] for e in events] == list(range(1, len(versions) + 1))
            assert record.version_count == len(versions)
            assert ledger.datasets.version_exists(dataset_id, len(versions)) is True
            assert ledger.datasets.version_exists(dataset_id, len(versions) + 1) is False
            # No earlier version changed: what the node returns is exactly what was appended.
            assert [
                (e.args["contentHash"], e.args["metadataHash"], event_parents(e)) for e in events
            ] == versions
            # The head chain from the events ends at the stored head.
            assert replay_head(events) == record.history_head
            assert events[-1].args["historyHead"] == record.history_head
    finally:
        chain.revert(snapshot)


# --- withdrawing --------------------------------------------------------------------------


def test_withdraw_marks_the_dataset_withdrawn_and_keeps_its_versions(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    add(ledger, actors.dept_a, dataset_a, "v2")
    before = ledger.datasets.dataset(dataset_a)

    receipt = ledger.datasets.withdraw_dataset(
        dataset_a, digest("superseded"), sender=actors.dept_a
    )

    (withdrawn,) = receipt_events(ledger.datasets, receipt, "DatasetWithdrawn")
    assert withdrawn.args == {
        "datasetId": dataset_a,
        "department": DEPT_A,
        "reasonHash": digest("superseded"),
    }
    after = ledger.datasets.dataset(dataset_a)
    assert after.withdrawn is True
    assert (after.owner, after.version_count, after.history_head) == (
        before.owner,
        2,
        before.history_head,
    )
    assert ledger.datasets.version_exists(dataset_a, 2) is True
    assert len(version_logs(ledger, dataset_a)) == 2


def test_withdraw_by_signature_withdraws_for_the_signing_department(
    ledger: Ledger, actors: Any, dataset_a: bytes, deadline: int
) -> None:
    auth = ledger.datasets.sign_withdraw_dataset(
        dataset_a, digest("why"), signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )

    receipt = ledger.datasets.withdraw_dataset_by_sig(
        dataset_a, digest("why"), auth=auth, sender=actors.relayer
    )

    assert ledger.datasets.dataset(dataset_a).withdrawn is True
    (withdrawn,) = receipt_events(ledger.datasets, receipt, "DatasetWithdrawn")
    assert withdrawn.args["department"] == DEPT_A


def test_no_version_can_be_added_after_withdrawal(
    ledger: Ledger, actors: Any, dataset_a: bytes, deadline: int
) -> None:
    ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)

    with pytest.raises(DatasetIsWithdrawnError) as info:
        add(ledger, actors.dept_a, dataset_a, "too late")
    assert info.value.args_by_name == {"datasetId": hex32(dataset_a)}
    version = NewVersion(digest("too late by sig"))
    auth = ledger.datasets.sign_add_version(
        dataset_a, version, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    with pytest.raises(DatasetIsWithdrawnError):
        ledger.datasets.add_version_by_sig(dataset_a, version, auth=auth, sender=actors.relayer)
    assert ledger.datasets.dataset(dataset_a).version_count == 1


def test_a_dataset_cannot_be_withdrawn_twice(ledger: Ledger, actors: Any, dataset_a: bytes) -> None:
    ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)

    with pytest.raises(DatasetIsWithdrawnError) as info:
        ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)
    assert info.value.args_by_name == {"datasetId": hex32(dataset_a)}


def test_versions_of_a_withdrawn_dataset_remain_citable_as_parents(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)

    derived = create(
        ledger,
        actors.dept_b,
        "after-withdrawal",
        department_id=DEPT_B,
        parents=[VersionRef(dataset_a, 1)],
    )

    assert event_parents(version_logs(ledger, derived)[0]) == [(dataset_a, 1)]


# --- refusals: ownership and existence -------------------------------------------------------


def test_adding_a_version_to_an_unknown_dataset_reverts(ledger: Ledger, actors: Any) -> None:
    unknown = digest("no such dataset")

    with pytest.raises(DatasetUnknownError) as info:
        add(ledger, actors.dept_a, unknown, "v")
    assert info.value.args_by_name == {"datasetId": hex32(unknown)}


def test_withdrawing_an_unknown_dataset_reverts(ledger: Ledger, actors: Any) -> None:
    unknown = digest("no such dataset")

    with pytest.raises(DatasetUnknownError) as info:
        ledger.datasets.withdraw_dataset(unknown, sender=actors.dept_a)
    assert info.value.args_by_name == {"datasetId": hex32(unknown)}


def test_another_department_cannot_add_a_version(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    with pytest.raises(DatasetNotOwnerError) as info:
        add(ledger, actors.dept_b, dataset_a, "intruder")

    assert info.value.args_by_name == {"datasetId": hex32(dataset_a), "departmentId": DEPT_B}
    assert ledger.datasets.dataset(dataset_a).version_count == 1


def test_another_department_cannot_add_a_version_by_signature(
    ledger: Ledger, actors: Any, dataset_a: bytes, deadline: int
) -> None:
    version = NewVersion(digest("intruder"))
    auth = ledger.datasets.sign_add_version(
        dataset_a, version, signer=actors.dept_b, department_id=DEPT_B, deadline=deadline
    )

    with pytest.raises(DatasetNotOwnerError) as info:
        ledger.datasets.add_version_by_sig(dataset_a, version, auth=auth, sender=actors.relayer)
    assert info.value.args_by_name == {"datasetId": hex32(dataset_a), "departmentId": DEPT_B}


def test_another_department_cannot_withdraw(ledger: Ledger, actors: Any, dataset_a: bytes) -> None:
    with pytest.raises(DatasetNotOwnerError) as info:
        ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_c)

    assert info.value.args_by_name == {"datasetId": hex32(dataset_a), "departmentId": DEPT_C}
    assert ledger.datasets.dataset(dataset_a).withdrawn is False


def test_a_salt_cannot_be_reused_by_the_same_department(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    with pytest.raises(DatasetAlreadyExistsError) as info:
        create(
            ledger, actors.dept_a, "dataset-a", department_id=DEPT_A, content=digest("other bytes")
        )

    assert info.value.args_by_name == {"datasetId": hex32(dataset_a)}
    assert ledger.datasets.dataset(dataset_a).version_count == 1


# --- refusals: parents --------------------------------------------------------------------


def test_a_parent_in_an_unknown_dataset_reverts(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    unknown = digest("never created")

    with pytest.raises(DatasetUnknownParentError) as info:
        add(
            ledger,
            actors.dept_a,
            dataset_a,
            "v2",
            parents=[VersionRef(dataset_a, 1), VersionRef(unknown, 1)],
        )
    assert info.value.args_by_name == {"datasetId": hex32(unknown), "version": 1}


def test_parent_version_0_does_not_exist(ledger: Ledger, actors: Any, dataset_a: bytes) -> None:
    with pytest.raises(DatasetUnknownParentError) as info:
        add(ledger, actors.dept_a, dataset_a, "v2", parents=[VersionRef(dataset_a, 0)])
    assert info.value.args_by_name == {"datasetId": hex32(dataset_a), "version": 0}


def test_a_parent_version_beyond_the_version_count_reverts(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    dataset_b = create(ledger, actors.dept_b, "dataset-b", department_id=DEPT_B)

    with pytest.raises(DatasetUnknownParentError) as info:
        add(ledger, actors.dept_a, dataset_a, "v2", parents=[VersionRef(dataset_b, 2)])
    assert info.value.args_by_name == {"datasetId": hex32(dataset_b), "version": 2}


def test_a_version_cannot_name_itself_as_its_parent(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    with pytest.raises(DatasetUnknownParentError) as info:
        add(ledger, actors.dept_a, dataset_a, "v2", parents=[VersionRef(dataset_a, 2)])

    assert info.value.args_by_name == {"datasetId": hex32(dataset_a), "version": 2}
    assert ledger.datasets.dataset(dataset_a).version_count == 1


def test_a_first_version_cannot_name_itself_as_its_parent(ledger: Ledger, actors: Any) -> None:
    own_id = DatasetRegistryClient.dataset_id_of(DEPT_A, digest("self-parent"))

    with pytest.raises(DatasetUnknownParentError) as info:
        create(
            ledger,
            actors.dept_a,
            "self-parent",
            department_id=DEPT_A,
            parents=[VersionRef(own_id, 1)],
        )

    assert info.value.args_by_name == {"datasetId": hex32(own_id), "version": 1}
    assert not ledger.datasets.dataset(own_id).exists


def test_at_most_64_parents_are_accepted(ledger: Ledger, actors: Any, dataset_a: bytes) -> None:
    assert ledger.datasets.contract.functions.MAX_PARENTS().call() == 64

    receipt = add(ledger, actors.dept_a, dataset_a, "wide", parents=[VersionRef(dataset_a, 1)] * 64)
    (added,) = receipt_events(ledger.datasets, receipt, "VersionAdded")
    assert len(added.args["parents"]) == 64

    with pytest.raises(DatasetTooManyParentsError) as info:
        add(ledger, actors.dept_a, dataset_a, "too wide", parents=[VersionRef(dataset_a, 1)] * 65)
    assert info.value.args_by_name == {"count": 65, "max": 64}
    assert ledger.datasets.dataset(dataset_a).version_count == 2


# --- refusals: values ---------------------------------------------------------------------


def test_a_zero_content_hash_is_refused_on_create_and_on_append(
    ledger: Ledger, actors: Any, dataset_a: bytes
) -> None:
    with pytest.raises(DatasetZeroContentHashError):
        ledger.datasets.create_dataset(
            digest("zero"), Classification.PUBLIC, ZERO32, NewVersion(ZERO32), sender=actors.dept_a
        )
    with pytest.raises(DatasetZeroContentHashError):
        ledger.datasets.add_version(dataset_a, NewVersion(ZERO32), sender=actors.dept_a)

    assert not ledger.datasets.dataset(
        DatasetRegistryClient.dataset_id_of(DEPT_A, digest("zero"))
    ).exists
    assert ledger.datasets.dataset(dataset_a).version_count == 1


def test_classification_4_is_out_of_range(ledger: Ledger, actors: Any) -> None:
    with pytest.raises(DatasetInvalidClassificationError) as info:
        ledger.datasets.create_dataset(
            digest("class-4"),
            4,  # type: ignore[arg-type]  # not a Classification: the contract must refuse it
            ZERO32,
            NewVersion(digest("x")),
            sender=actors.dept_a,
        )

    assert info.value.args_by_name == {"classification": 4}


# --- refusals: who may write ---------------------------------------------------------------


def test_an_account_that_is_no_departments_key_cannot_create(ledger: Ledger, actors: Any) -> None:
    with pytest.raises(DepartmentUnknownSignerError) as info:
        create(ledger, actors.outsider, "outsider", department_id=0)

    assert info.value.args_by_name == {"account": actors.outsider.address}


def test_a_suspended_department_can_neither_create_nor_append_nor_withdraw(
    ledger: Ledger, actors: Any, dataset_a: bytes, deadline: int
) -> None:
    ledger.departments.suspend_department(DEPT_A, digest("audit"), sender=actors.governance)

    with pytest.raises(DepartmentInactiveError) as info:
        create(ledger, actors.dept_a, "while-suspended", department_id=DEPT_A)
    assert info.value.args_by_name == {"departmentId": DEPT_A}
    with pytest.raises(DepartmentInactiveError):
        add(ledger, actors.dept_a, dataset_a, "while-suspended")
    with pytest.raises(DepartmentInactiveError):
        ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)
    version = NewVersion(digest("while-suspended by sig"))
    auth = ledger.datasets.sign_add_version(
        dataset_a, version, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    with pytest.raises(DepartmentInactiveError) as info:
        ledger.datasets.add_version_by_sig(dataset_a, version, auth=auth, sender=actors.relayer)
    assert info.value.args_by_name == {"departmentId": DEPT_A}

    ledger.departments.reactivate_department(DEPT_A, sender=actors.governance)
    ledger.datasets.add_version_by_sig(dataset_a, version, auth=auth, sender=actors.relayer)
    assert ledger.datasets.dataset(dataset_a).version_count == 2


def test_nothing_can_be_written_while_paused(
    ledger: Ledger, actors: Any, dataset_a: bytes, deadline: int
) -> None:
    ledger.departments.pause(sender=actors.governance)

    with pytest.raises(EnforcedPauseError):
        create(ledger, actors.dept_b, "while-paused", department_id=DEPT_B)
    with pytest.raises(EnforcedPauseError):
        add(ledger, actors.dept_a, dataset_a, "while-paused")
    with pytest.raises(EnforcedPauseError):
        ledger.datasets.withdraw_dataset(dataset_a, sender=actors.dept_a)
    auth = ledger.datasets.sign_withdraw_dataset(
        dataset_a, signer=actors.dept_a, department_id=DEPT_A, deadline=deadline
    )
    with pytest.raises(EnforcedPauseError):
        ledger.datasets.withdraw_dataset_by_sig(dataset_a, auth=auth, sender=actors.relayer)
    # Reads never pause.
    assert ledger.datasets.dataset(dataset_a).version_count == 1

    ledger.departments.unpause(sender=actors.governance)
    ledger.datasets.withdraw_dataset_by_sig(dataset_a, auth=auth, sender=actors.relayer)
    assert ledger.datasets.dataset(dataset_a).withdrawn is True


# --- finding registrations of some bytes -----------------------------------------------------


def test_the_same_bytes_in_two_datasets_are_both_found_by_content_hash_topic(
    ledger: Ledger, actors: Any
) -> None:
    content = digest("the bytes everyone publishes")
    in_a = create(ledger, actors.dept_a, "publication-a", department_id=DEPT_A, content=content)
    in_b = create(ledger, actors.dept_b, "publication-b", department_id=DEPT_B)
    add(ledger, actors.dept_b, in_b, "unrelated")
    ledger.datasets.add_version(in_b, NewVersion(content), sender=actors.dept_b)

    logs = ledger.chain.w3.eth.get_logs(
        {
            "address": ledger.datasets.address,
            "fromBlock": ledger.deployment.start_block,
            "toBlock": "latest",
            # topic0 event, topic1 datasetId (any), topic2 contentHash
            "topics": [hex32(VERSION_ADDED_TOPIC), None, hex32(content)],
        }
    )

    found = named(ledger.datasets.decode_events(logs), "VersionAdded")
    assert sorted(
        (e.args["datasetId"], e.args["version"], e.args["department"]) for e in found
    ) == sorted([(in_a, 1, DEPT_A), (in_b, 3, DEPT_B)])
    assert all(e.args["contentHash"] == content for e in found)
