"""Specification of the indexer: chain events into the SQL index, reorg-aware and rebuildable.

The index is a cache of the chain (design §1), so every expectation here is checked against the
chain itself: the contracts' views (``dataset().version_count``, ``access_request().status``…)
and the receipts the stored chain coordinates point to. Each test gets a fresh SQLite file; when
``PROVLEDGER_TEST_DATABASE_URL`` names a PostgreSQL database the same tests run there too.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy import Column, Integer, MetaData, Table, delete, insert, select, update
from sqlalchemy.engine import Engine

from ledger.chain.backend import Chain
from ledger.chain.clients import AccessRegistryClient, DatasetRegistryClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, Kem, NewVersion, RequestStatus, VersionRef
from ledger.db import make_engine
from ledger.errors import ChainMismatchError, ChainUnavailableError
from ledger.index import Indexer, projections
from ledger.index.models import (
    ACCESS_REQUESTS,
    ANCHORS,
    BLOCKS,
    DATASETS,
    DEPARTMENT_KEYS,
    DEPARTMENTS,
    ENCRYPTION_KEYS,
    EVENTS,
    INDEX_TABLES,
    PAUSE_STATE,
    STATE,
    VERSION_PARENTS,
    VERSIONS,
    IndexState,
)

DEPT_A = 1
DEPT_B = 2
DEPT_C = 3
DAY = 86_400
DATABASE_URL_ENV = "PROVLEDGER_TEST_DATABASE_URL"


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh index database: a SQLite file, or the PostgreSQL database named by the env."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    else:
        url = os.environ.get(DATABASE_URL_ENV)
        if not url:
            pytest.skip(f"{DATABASE_URL_ENV} is not set: no PostgreSQL database to run against")
        engine = make_engine(url)
        _drop_index_tables(engine)  # a previous, interrupted run may have left some
    try:
        yield engine
    finally:
        if request.param != "sqlite":
            _drop_index_tables(engine)
        engine.dispose()


def _drop_index_tables(engine: Engine) -> None:
    IndexState.metadata.drop_all(engine, tables=list(INDEX_TABLES))


@pytest.fixture
def indexer(ledger: Ledger, engine: Engine) -> Indexer:
    return Indexer(ledger=ledger, engine=engine)


# --- helpers ---------------------------------------------------------------------------------


def digest(label: str) -> bytes:
    """A distinct 32-byte stand-in for a SHA-256 digest."""
    return keccak(text=label)


def hx(value: bytes) -> str:
    """How the index spells bytes: lowercase 0x-hex."""
    return "0x" + bytes(value).hex()


def rows(engine: Engine, table: Table, **where: Any) -> list[dict[str, Any]]:
    """The rows of ``table`` (filtered by column values), in primary-key order (sorted here, so
    the order is the same on every database whatever its collation)."""
    with engine.connect() as conn:
        query = select(table).where(*(table.c[k] == v for k, v in where.items()))
        found = [dict(r) for r in conn.execute(query).mappings()]
    key = [c.name for c in table.primary_key.columns]
    return sorted(found, key=lambda r: tuple(r[k] for k in key))


def as_json(value: Any) -> Any:
    """What the index should store for a value web3 decoded: bytes and addresses as lowercase
    0x-hex, structs as objects, arrays as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return value.lower()
    if isinstance(value, Mapping):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


def row(engine: Engine, table: Table, **where: Any) -> dict[str, Any]:
    (found,) = rows(engine, table, **where)
    return found


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every index table. The schema has no surrogate (autoincrement) keys, so
    every column is compared; should one appear, it is left out here."""
    surrogate = {
        (t.name, c.name) for t in INDEX_TABLES for c in t.primary_key if c.autoincrement is True
    }
    return {
        t.name: [
            {k: v for k, v in r.items() if (t.name, k) not in surrogate} for r in rows(engine, t)
        ]
        for t in INDEX_TABLES
    }


def assert_points_at_event(ledger: Ledger, record: dict[str, Any], prefix: str, name: str) -> None:
    """The ``prefix``_* coordinates of ``record`` name a real log of event ``name``, and
    ``prefix``_at is the time of its block."""
    w3 = ledger.chain.w3
    receipt = w3.eth.get_transaction_receipt(record[f"{prefix}_tx_hash"])
    assert receipt["blockNumber"] == record[f"{prefix}_block_number"]
    assert HexBytes(receipt["blockHash"]).to_0x_hex() == record[f"{prefix}_block_hash"]
    (log,) = [x for x in receipt["logs"] if x["logIndex"] == record[f"{prefix}_log_index"]]
    clients = (ledger.departments, ledger.datasets, ledger.access, ledger.anchors, ledger.keys)
    (event,) = [e for client in clients for e in client.decode_events([log])]
    assert event.name == name
    assert record[f"{prefix}_at"] == w3.eth.get_block(receipt["blockNumber"])["timestamp"]


def assert_only_canonical_events(engine: Engine, chain: Chain) -> None:
    """Every stored event's block is on the chain's current branch."""
    for event in rows(engine, EVENTS):
        block = chain.w3.eth.get_block(event["block_number"])
        assert HexBytes(block["hash"]).to_0x_hex() == event["block_hash"]


def create_dataset(
    ledger: Ledger,
    owner: LocalAccount,
    department_id: int,
    label: str,
    parents: tuple[VersionRef, ...] = (),
) -> bytes:
    ledger.datasets.create_dataset(
        digest(label),
        Classification.RESTRICTED,
        digest(f"{label}/meta"),
        NewVersion(digest(f"{label}/v1"), digest(f"{label}/v1/meta"), parents),
        sender=owner,
    )
    return DatasetRegistryClient.dataset_id_of(department_id, digest(label))


def add_version(
    ledger: Ledger, owner: LocalAccount, dataset_id: bytes, label: str, *parents: VersionRef
) -> None:
    version = NewVersion(digest(label), digest(f"{label}/meta"), parents)
    ledger.datasets.add_version(dataset_id, version, sender=owner)


def ask(
    ledger: Ledger, who: LocalAccount, department_id: int, dataset_id: bytes, label: str
) -> bytes:
    ledger.access.request_access(
        digest(label), dataset_id, digest(f"{label}/purpose"), 30 * DAY, sender=who
    )
    return AccessRegistryClient.request_id_of(department_id, digest(label))


def a_lot_happens(ledger: Ledger, actors: Any) -> dict[str, bytes]:
    """A bit of everything: datasets with lineage, versions, a withdrawal, every access
    outcome, an anchor, two encryption keys, a key rotation, a suspension. Returns the ids
    made."""
    x = create_dataset(ledger, actors.dept_a, DEPT_A, "x")
    add_version(ledger, actors.dept_a, x, "x/v2", VersionRef(x, 1))
    y = create_dataset(ledger, actors.dept_b, DEPT_B, "y", (VersionRef(x, 2),))
    add_version(ledger, actors.dept_a, x, "x/v3", VersionRef(x, 2), VersionRef(y, 1))
    z = create_dataset(ledger, actors.dept_c, DEPT_C, "z")
    ledger.datasets.withdraw_dataset(z, digest("z/why"), sender=actors.dept_c)
    grant = ask(ledger, actors.dept_b, DEPT_B, x, "b-grant")
    ledger.access.approve_access(grant, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    denied = ask(ledger, actors.dept_c, DEPT_C, x, "c-denied")
    ledger.access.deny_access(denied, digest("no"), sender=actors.dept_a)
    ledger.anchors.anchor_batch(digest("root"), 7, digest("batch/meta"), sender=actors.dept_b)
    for label in ("a/key1", "a/key2"):  # a first encryption key and its rotation
        ledger.keys.publish_encryption_key(Kem.X25519, digest(label), sender=actors.dept_a)
    ledger.departments.rotate_department_key(
        DEPT_C, fresh_key("c2").address, sender=actors.governance
    )
    ledger.departments.suspend_department(DEPT_B, digest("audit"), sender=actors.governance)
    return {"x": x, "y": y, "z": z, "grant": grant, "denied": denied}


def fresh_key(name: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"provledger-index-test:{name}"))


# --- departments ----------------------------------------------------------------------------


def test_sync_projects_the_enrolled_departments_with_their_chain_coordinates(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    report = indexer.sync()

    assert report.from_block == ledger.deployment.start_block
    assert report.to_block == ledger.chain.w3.eth.block_number == report.head
    assert report.reorgs == ()
    departments = rows(engine, DEPARTMENTS)
    assert [d["department_id"] for d in departments] == [DEPT_A, DEPT_B, DEPT_C]
    for department, key in zip(
        departments, (actors.dept_a, actors.dept_b, actors.dept_c), strict=True
    ):
        on_chain = ledger.departments.department(department["department_id"])
        assert department["signer"] == on_chain.signer.lower() == key.address.lower()
        assert department["status"] == on_chain.status.name.lower() == "active"
        assert department["created_at"] == on_chain.enrolled_at
        assert_points_at_event(ledger, department, "created", "DepartmentEnrolled")
        assert_points_at_event(ledger, department, "updated", "DepartmentEnrolled")
    assert row(engine, DEPARTMENTS, department_id=DEPT_A)["name"] == "Department of Health"


def test_key_rotation_keeps_every_key_with_the_blocks_it_was_valid_in(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    new_key = fresh_key("c2")
    receipt = ledger.departments.rotate_department_key(
        DEPT_C, new_key.address, sender=actors.governance
    )

    indexer.sync()

    department = row(engine, DEPARTMENTS, department_id=DEPT_C)
    assert department["signer"] == ledger.departments.department(DEPT_C).signer.lower()
    assert department["signer"] == new_key.address.lower()
    assert department["updated_tx_hash"] == receipt.tx_hash
    assert_points_at_event(ledger, department, "updated", "DepartmentKeyRotated")
    old, new = (
        row(engine, DEPARTMENT_KEYS, signer=k.address.lower()) for k in (actors.dept_c, new_key)
    )
    assert old["department_id"] == new["department_id"] == DEPT_C
    assert old["valid_until_block"] == new["valid_from_block"] == receipt.block_number
    assert old["valid_until_time"] == new["created_at"]
    assert new["valid_until_block"] is None
    assert old["valid_from_block"] < receipt.block_number


def test_suspension_and_reactivation_follow_the_department_status(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    ledger.departments.suspend_department(DEPT_B, digest("audit"), sender=actors.governance)
    indexer.sync()
    suspended = row(engine, DEPARTMENTS, department_id=DEPT_B)
    assert suspended["status"] == ledger.departments.department(DEPT_B).status.name.lower()
    assert (suspended["status"], suspended["suspension_reason_hash"]) == (
        "suspended",
        hx(digest("audit")),
    )

    receipt = ledger.departments.reactivate_department(DEPT_B, sender=actors.governance)
    indexer.sync()

    active = row(engine, DEPARTMENTS, department_id=DEPT_B)
    assert (active["status"], active["suspension_reason_hash"]) == ("active", None)
    assert active["updated_tx_hash"] == receipt.tx_hash
    assert active["created_tx_hash"] == suspended["created_tx_hash"]


def test_pause_and_unpause_are_projected_on_the_registry(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    ledger.departments.pause(sender=actors.governance)
    indexer.sync()
    assert row(engine, PAUSE_STATE)["paused"] is True

    receipt = ledger.departments.unpause(sender=actors.governance)
    indexer.sync()

    state = row(engine, PAUSE_STATE)
    assert state["paused"] is ledger.departments.paused() is False
    assert state["address"] == ledger.deployment.department_registry.lower()
    assert state["changed_by"] == actors.governance.address.lower()
    assert state["updated_tx_hash"] == receipt.tx_hash


# --- datasets, versions, lineage ---------------------------------------------------------------


def test_datasets_and_versions_match_the_contract_views(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    ids = a_lot_happens(ledger, actors)

    indexer.sync()

    for dataset_id in (ids["x"], ids["y"], ids["z"]):
        on_chain = ledger.datasets.dataset(dataset_id)
        indexed = row(engine, DATASETS, dataset_id=hx(dataset_id))
        assert indexed["owner"] == on_chain.owner
        assert indexed["version_count"] == on_chain.version_count
        assert indexed["history_head"] == hx(on_chain.history_head)
        assert indexed["classification"] == on_chain.classification.name.lower() == "restricted"
        assert indexed["status"] == ("withdrawn" if on_chain.withdrawn else "active")
        assert indexed["created_at"] == on_chain.created_at
        versions = rows(engine, VERSIONS, dataset_id=hx(dataset_id))
        assert [v["version"] for v in versions] == list(range(1, on_chain.version_count + 1))
        assert versions[-1]["history_head"] == indexed["history_head"]
    assert row(engine, DATASETS, dataset_id=hx(ids["x"]))["version_count"] == 3


def test_a_version_is_found_by_content_hash_like_the_chain_logs_find_it(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    ids = a_lot_happens(ledger, actors)
    ledger.datasets.add_version(ids["x"], NewVersion(digest("x/v2")), sender=actors.dept_a)

    indexer.sync()

    found = sorted(
        rows(engine, VERSIONS, content_hash=hx(digest("x/v2"))),
        key=lambda v: (v["created_block_number"], v["created_log_index"]),
    )
    assert len(found) == 2
    on_chain = ledger.datasets.registrations_of(digest("x/v2"))
    assert [(v["dataset_id"], v["version"], v["created_tx_hash"]) for v in found] == [
        (hx(e.args["datasetId"]), e.args["version"], e.tx_hash) for e in on_chain
    ]
    for version in found:
        assert_points_at_event(ledger, version, "created", "VersionAdded")


def test_lineage_is_stored_both_ways(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    ids = a_lot_happens(ledger, actors)
    x, y = hx(ids["x"]), hx(ids["y"])

    indexer.sync()

    parents_of_x3 = rows(engine, VERSION_PARENTS, dataset_id=x, version=3)
    edges = sorted(
        (p["position"], p["parent_dataset_id"], p["parent_version"]) for p in parents_of_x3
    )
    assert edges == [(0, x, 2), (1, y, 1)]
    children_of_x2 = rows(engine, VERSION_PARENTS, parent_dataset_id=x, parent_version=2)
    assert sorted((c["dataset_id"], c["version"]) for c in children_of_x2) == sorted(
        [(x, 3), (y, 1)]
    )
    assert row(engine, VERSIONS, dataset_id=x, version=3)["parent_count"] == 2
    assert rows(engine, VERSION_PARENTS, dataset_id=hx(ids["z"])) == []


def test_withdrawal_is_projected_with_its_reason_and_time(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    dataset_id = create_dataset(ledger, actors.dept_a, DEPT_A, "to-withdraw")
    receipt = ledger.datasets.withdraw_dataset(dataset_id, digest("why"), sender=actors.dept_a)

    indexer.sync()

    dataset = row(engine, DATASETS, dataset_id=hx(dataset_id))
    assert ledger.datasets.dataset(dataset_id).withdrawn is True
    assert (dataset["status"], dataset["withdrawn_reason_hash"]) == ("withdrawn", hx(digest("why")))
    assert (
        dataset["withdrawn_at"] == ledger.chain.w3.eth.get_block(receipt.block_number)["timestamp"]
    )
    assert dataset["updated_tx_hash"] == receipt.tx_hash
    assert_points_at_event(ledger, dataset, "updated", "DatasetWithdrawn")
    assert_points_at_event(ledger, dataset, "created", "DatasetCreated")


# --- access and anchors ------------------------------------------------------------------------


def test_every_access_outcome_matches_the_contract_status(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    x = create_dataset(ledger, actors.dept_a, DEPT_A, "x")
    first = ask(ledger, actors.dept_b, DEPT_B, x, "b-first")
    ledger.access.approve_access(first, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    second = ask(ledger, actors.dept_b, DEPT_B, x, "b-second")
    expires_at = ledger.chain.block_time() + 2 * DAY
    ledger.access.approve_access(second, expires_at, sender=actors.dept_a)
    revoked = ask(ledger, actors.dept_c, DEPT_C, x, "c-revoked")
    ledger.access.approve_access(revoked, ledger.chain.block_time() + DAY, sender=actors.dept_a)
    ledger.access.revoke_access(revoked, digest("misuse"), sender=actors.dept_a)
    denied = ask(ledger, actors.dept_c, DEPT_C, x, "c-denied")
    ledger.access.deny_access(denied, digest("no"), sender=actors.dept_a)
    cancelled = ask(ledger, actors.dept_c, DEPT_C, x, "c-cancelled")
    ledger.access.cancel_access_request(cancelled, sender=actors.dept_c)
    pending = ask(ledger, actors.dept_b, DEPT_B, x, "b-pending")
    labels: dict[bytes, str] = {}
    for department, label in [
        (DEPT_B, "b-first"),
        (DEPT_B, "b-second"),
        (DEPT_C, "c-revoked"),
        (DEPT_C, "c-denied"),
        (DEPT_C, "c-cancelled"),
        (DEPT_B, "b-pending"),
    ]:
        labels[AccessRegistryClient.request_id_of(department, digest(label))] = label

    indexer.sync()

    expected = {
        first: "superseded",
        second: "approved",
        revoked: "revoked",
        denied: "denied",
        cancelled: "cancelled",
        pending: "pending",
    }
    for request_id, status in expected.items():
        on_chain = ledger.access.access_request(request_id)
        indexed = row(engine, ACCESS_REQUESTS, request_id=hx(request_id))
        assert indexed["status"] == on_chain.status.name.lower() == status
        assert indexed["requested_duration"] == on_chain.requested_duration == 30 * DAY
        assert indexed["requester"] == on_chain.requester
        assert indexed["dataset_id"] == hx(on_chain.dataset_id)
        assert (indexed["expires_at"] or 0) == on_chain.expires_at
        assert indexed["purpose_hash"] == hx(digest(f"{labels[request_id]}/purpose"))
    assert row(engine, ACCESS_REQUESTS, request_id=hx(first))["superseded_by"] == hx(second)
    assert row(engine, ACCESS_REQUESTS, request_id=hx(second))["expires_at"] == expires_at
    assert row(engine, ACCESS_REQUESTS, request_id=hx(revoked))["revoke_reason_hash"] == hx(
        digest("misuse")
    )
    assert row(engine, ACCESS_REQUESTS, request_id=hx(denied))["deny_reason_hash"] == hx(
        digest("no")
    )
    assert ledger.access.access_request(first).status is RequestStatus.SUPERSEDED


def test_an_anchored_batch_is_projected(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    receipt = ledger.anchors.anchor_batch(digest("root"), 42, digest("meta"), sender=actors.dept_b)

    indexer.sync()

    anchor = row(engine, ANCHORS, root=hx(digest("root")))
    on_chain = ledger.anchors.anchor(digest("root"))
    assert (
        (anchor["department_id"], anchor["size"])
        == (on_chain.department, on_chain.size)
        == (DEPT_B, 42)
    )
    assert anchor["created_at"] == on_chain.anchored_at
    assert anchor["metadata_hash"] == hx(digest("meta"))
    assert anchor["created_tx_hash"] == receipt.tx_hash


# --- encryption keys ---------------------------------------------------------------------------


def test_every_published_encryption_key_is_kept_whole_with_its_serial(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    first = bytes(range(32))
    # Any bytes of the right length: the contract checks only that.
    second = bytes(i % 251 for i in range(Kem.MLKEM768_X25519.public_key_length))
    ledger.keys.publish_encryption_key(Kem.X25519, first, sender=actors.dept_b)
    receipt = ledger.keys.publish_encryption_key(Kem.MLKEM768_X25519, second, sender=actors.dept_b)

    indexer.sync()

    keys = rows(engine, ENCRYPTION_KEYS, department_id=DEPT_B)
    assert [(k["serial"], k["kem_id"], k["public_key"]) for k in keys] == [
        (1, Kem.X25519, hx(first)),
        (2, Kem.MLKEM768_X25519, hx(second)),
    ]
    for key in keys:
        assert key["key_hash"] == hx(ledger.keys.key_hash_at(DEPT_B, key["serial"]))
        assert key["key_hash"] == hx(keccak(bytes.fromhex(key["public_key"][2:])))
        assert_points_at_event(ledger, key, "created", "EncryptionKeyPublished")
    assert keys[1]["created_tx_hash"] == receipt.tx_hash
    assert keys[1]["created_at"] == ledger.keys.current_key(DEPT_B).published_at
    assert rows(engine, ENCRYPTION_KEYS, department_id=DEPT_A) == []


def test_a_deployment_from_before_the_key_directory_is_indexed_without_it(
    ledger: Ledger, engine: Engine, actors: Any
) -> None:
    ledger.keys.publish_encryption_key(Kem.X25519, digest("a/key"), sender=actors.dept_a)
    create_dataset(ledger, actors.dept_a, DEPT_A, "old")
    old = Ledger(ledger.chain, dataclasses.replace(ledger.deployment, key_directory=None))

    Indexer(ledger=old, engine=engine).sync()

    assert rows(engine, ENCRYPTION_KEYS) == []
    assert row(engine, STATE)["key_directory"] is None
    assert "KeyDirectory" not in {e["contract"] for e in rows(engine, EVENTS)}
    assert row(engine, DATASETS)["owner"] == DEPT_A


def test_an_index_written_before_the_key_directory_is_rebuilt_with_its_events(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    ledger.keys.publish_encryption_key(Kem.X25519, digest("a/key"), sender=actors.dept_a)
    indexer.sync()
    expected = dump(engine)
    with engine.begin() as conn:  # as an older release left it: no column, no keys read
        conn.execute(delete(ENCRYPTION_KEYS))
        conn.exec_driver_sql("ALTER TABLE index_state DROP COLUMN key_directory")

    Indexer(ledger=ledger, engine=engine).sync()

    assert dump(engine) == expected
    assert row(engine, ENCRYPTION_KEYS)["key_hash"] == hx(keccak(digest("a/key")))


# --- events ------------------------------------------------------------------------------------


def test_every_contract_log_is_stored_as_an_event_with_json_args(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    ids = a_lot_happens(ledger, actors)

    indexer.sync()

    d = ledger.deployment
    logs = ledger.chain.w3.eth.get_logs(
        {
            "address": [
                d.department_registry,
                d.dataset_registry,
                d.access_registry,
                d.anchor_registry,
                d.key_directory,
            ],
            "fromBlock": d.start_block,
            "toBlock": "latest",
        }
    )
    events = rows(engine, EVENTS)
    assert sorted((e["block_hash"], e["log_index"]) for e in events) == sorted(
        (HexBytes(log["blockHash"]).to_0x_hex(), log["logIndex"]) for log in logs
    )
    # Names and values are those the contract clients decode, spelled as JSON.
    clients = (ledger.departments, ledger.datasets, ledger.access, ledger.anchors, ledger.keys)
    stored = {(e["block_hash"], e["log_index"]): e for e in events}
    for log in logs:
        (decoded,) = [e for client in clients for e in client.decode_events([log])]
        event = stored[(decoded.block_hash, decoded.log_index)]
        assert (event["event"], event["tx_hash"]) == (decoded.name, decoded.tx_hash)
        assert event["args"] == as_json(decoded.args)
    # Events without a projection (role grants from the constructors) are kept as they are.
    assert any(e["event"] == "RoleGranted" for e in events)
    (x3,) = [
        e
        for e in events
        if e["event"] == "VersionAdded" and e["args"]["contentHash"] == hx(digest("x/v3"))
    ]
    assert x3["contract"] == "DatasetRegistry"
    assert x3["address"] == d.dataset_registry.lower()
    assert x3["args"]["parents"] == [
        {"datasetId": hx(ids["x"]), "version": 2},
        {"datasetId": hx(ids["y"]), "version": 1},
    ]
    assert x3["args"]["department"] == DEPT_A
    block = ledger.chain.w3.eth.get_block(x3["block_number"])
    assert x3["block_time"] == block["timestamp"]
    stored = row(engine, BLOCKS, number=x3["block_number"])
    assert (stored["hash"], stored["parent_hash"]) == (
        HexBytes(block["hash"]).to_0x_hex(),
        HexBytes(block["parentHash"]).to_0x_hex(),
    )
    rotated = [e for e in events if e["event"] == "DepartmentKeyRotated"]
    assert rotated[0]["args"]["newSigner"] == fresh_key("c2").address.lower()


# --- idempotency, batching, lag ----------------------------------------------------------------


def test_a_second_sync_over_the_same_blocks_changes_nothing(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    a_lot_happens(ledger, actors)
    indexer.sync()
    before = dump(engine)

    again = indexer.sync()

    assert (again.blocks, again.events, again.from_block) == (0, 0, None)
    assert dump(engine) == before


def test_indexing_in_small_ranges_gives_the_same_index_as_one_pass(
    ledger: Ledger, engine: Engine, actors: Any, tmp_path: Path
) -> None:
    a_lot_happens(ledger, actors)
    stepwise = Indexer(ledger=ledger, engine=engine, batch_blocks=3)
    while stepwise.sync(max_blocks=5).blocks:
        pass
    other = make_engine(f"sqlite:///{tmp_path / 'one-pass.db'}")
    try:
        Indexer(ledger=ledger, engine=other).sync()
        assert dump(engine) == dump(other)
    finally:
        other.dispose()


def test_max_blocks_bounds_one_sync_and_lag_counts_what_is_left(
    ledger: Ledger, indexer: Indexer, actors: Any
) -> None:
    start = ledger.deployment.start_block
    head = ledger.chain.w3.eth.block_number
    assert indexer.last_indexed_block() is None
    assert indexer.lag() == head - start + 1

    report = indexer.sync(max_blocks=2)

    assert (report.from_block, report.to_block, report.blocks) == (start, start + 1, 2)
    assert report.last_indexed_block == indexer.last_indexed_block() == start + 1
    assert report.lag == indexer.lag() == head - start - 1
    indexer.sync()
    assert indexer.lag() == 0
    create_dataset(ledger, actors.dept_a, DEPT_A, "one")
    ledger.chain.advance_time(1)
    assert indexer.lag() == 2
    assert indexer.sync().lag == 0


# --- reorgs ------------------------------------------------------------------------------------


def test_a_reorg_leaves_only_the_new_branch_and_is_reported(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any, tmp_path: Path
) -> None:
    chain = ledger.chain
    indexer.sync()
    fork_head = chain.w3.eth.block_number
    snapshot = chain.snapshot()
    old = create_dataset(ledger, actors.dept_a, DEPT_A, "old-branch")
    ask(ledger, actors.dept_b, DEPT_B, old, "old-ask")
    ledger.anchors.anchor_batch(digest("old-root"), 3, sender=actors.dept_b)
    old_head = chain.w3.eth.block_number
    old_hash = HexBytes(chain.w3.eth.get_block(old_head)["hash"]).to_0x_hex()
    indexer.sync()
    assert row(engine, DATASETS, dataset_id=hx(old))["status"] == "active"

    chain.revert(snapshot)
    new = create_dataset(ledger, actors.dept_c, DEPT_C, "new-branch")
    ledger.chain.advance_time(5)
    ledger.anchors.anchor_batch(digest("new-root"), 9, sender=actors.dept_c)
    ledger.chain.advance_time(5)  # the new branch is longer: block numbers repeat, hashes differ
    assert chain.w3.eth.block_number > old_head
    assert HexBytes(chain.w3.eth.get_block(old_head)["hash"]).to_0x_hex() != old_hash

    report = indexer.sync()

    (reorg,) = report.reorgs
    assert (reorg.detected_at, reorg.fork_block) == (old_head, fork_head)
    assert reorg.depth == old_head - fork_head
    assert (
        reorg.orphaned_events == 4
    )  # DatasetCreated, VersionAdded, AccessRequested, BatchAnchored
    assert rows(engine, DATASETS, dataset_id=hx(old)) == []
    assert rows(engine, ACCESS_REQUESTS) == []
    assert [a["root"] for a in rows(engine, ANCHORS)] == [hx(digest("new-root"))]
    assert row(engine, DATASETS, dataset_id=hx(new))["version_count"] == 1
    assert_only_canonical_events(engine, chain)
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        Indexer(ledger=ledger, engine=fresh).sync()
        assert dump(engine) == dump(fresh)
    finally:
        fresh.dispose()


def test_a_reorg_onto_a_shorter_branch_without_events_rolls_back_to_the_fork(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    chain = ledger.chain
    indexer.sync()
    before = dump(engine)
    fork_head = chain.w3.eth.block_number
    snapshot = chain.snapshot()
    create_dataset(ledger, actors.dept_a, DEPT_A, "gone")
    chain.advance_time(1)
    chain.advance_time(1)
    indexer.sync()

    chain.revert(snapshot)
    chain.advance_time(3)  # one empty block: the branch is shorter than the indexed one
    report = indexer.sync()

    (reorg,) = report.reorgs
    assert reorg.fork_block == fork_head
    assert reorg.orphaned_events == 2
    assert indexer.last_indexed_block() == chain.w3.eth.block_number == fork_head + 1
    after = dump(engine)
    assert after["index_state"][0]["last_block_number"] == fork_head + 1
    for table in INDEX_TABLES:
        if table.name not in ("index_state", "index_blocks"):
            assert after[table.name] == before[table.name], table.name


def test_a_reorg_that_orphans_no_event_keeps_the_projections(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    chain = ledger.chain
    create_dataset(ledger, actors.dept_a, DEPT_A, "kept")
    snapshot = chain.snapshot()
    chain.advance_time(1)
    chain.advance_time(1)
    indexer.sync()
    before = dump(engine)

    chain.revert(snapshot)
    chain.advance_time(7)
    chain.advance_time(7)
    report = indexer.sync()

    (reorg,) = report.reorgs
    assert reorg.orphaned_events == 0
    after = dump(engine)
    for table in INDEX_TABLES:
        if table.name not in ("index_state", "index_blocks"):
            assert after[table.name] == before[table.name], table.name
    assert (
        after["index_state"][0]["last_block_hash"]
        == HexBytes(chain.w3.eth.get_block("latest")["hash"]).to_0x_hex()
    )


class _RacingLogs:
    """The indexer's log query, whose first call races a reorg: ``race`` replaces the chain's
    newest blocks just before or just after the logs are read."""

    def __init__(self, fetch: Any, race: Any, when: str) -> None:
        self._fetch, self._race, self._when, self.raced = fetch, race, when, False

    def __call__(self, start: int, end: int) -> Any:
        if self.raced:
            return self._fetch(start, end)
        self.raced = True
        if self._when == "before":
            self._race()
            return self._fetch(start, end)
        logs = self._fetch(start, end)
        self._race()
        return logs


@pytest.mark.parametrize("stale_branch", ["with-events", "without-events"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_reorg_while_a_range_is_read_is_retried_not_half_indexed(
    ledger: Ledger,
    indexer: Indexer,
    engine: Engine,
    actors: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    when: str,
    stale_branch: str,
) -> None:
    chain = ledger.chain
    indexer.sync()
    snapshot = chain.snapshot()
    if stale_branch == "with-events":
        create_dataset(ledger, actors.dept_a, DEPT_A, "stale")
    else:
        chain.advance_time(1)

    def reorg() -> None:
        chain.revert(snapshot)
        create_dataset(ledger, actors.dept_b, DEPT_B, "fresh")

    racing = _RacingLogs(indexer._fetch_logs, reorg, when)
    monkeypatch.setattr(indexer, "_fetch_logs", racing)

    report = indexer.sync()

    assert racing.raced
    assert report.reorgs == ()  # nothing of the stale branch was ever written
    assert [d["dataset_id"] for d in rows(engine, DATASETS)] == [
        hx(DatasetRegistryClient.dataset_id_of(DEPT_B, digest("fresh")))
    ]
    assert_only_canonical_events(engine, chain)
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        Indexer(ledger=ledger, engine=fresh).sync()
        assert dump(engine) == dump(fresh)
    finally:
        fresh.dispose()


def test_an_index_sharing_no_block_with_the_chain_is_rebuilt_from_the_start(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any, tmp_path: Path
) -> None:
    # As after a development chain was restarted and the same deployment replayed on it: same
    # addresses, same events, but every block hash differs from what the index holds.
    a_lot_happens(ledger, actors)
    indexer.sync()
    stored_events = len(rows(engine, EVENTS))
    with engine.begin() as conn:
        for block in rows(engine, BLOCKS):
            fake = "0x" + keccak(text=f"other chain {block['number']}").hex()
            conn.execute(update(BLOCKS).where(BLOCKS.c.number == block["number"]).values(hash=fake))
            if block["number"] == indexer.last_indexed_block():
                conn.execute(update(STATE).values(last_block_hash=fake))
    last = indexer.last_indexed_block()
    assert last is not None

    report = indexer.sync()

    (reorg,) = report.reorgs
    assert reorg.fork_block == ledger.deployment.start_block - 1
    assert reorg.depth == last - ledger.deployment.start_block + 1
    assert reorg.orphaned_events == stored_events
    assert report.from_block == ledger.deployment.start_block
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        Indexer(ledger=ledger, engine=fresh).sync()
        assert dump(engine) == dump(fresh)
    finally:
        fresh.dispose()


def test_two_indexers_sharing_a_database_never_apply_a_range_twice(
    ledger: Ledger, engine: Engine, actors: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a_lot_happens(ledger, actors)
    first, second = Indexer(ledger=ledger, engine=engine), Indexer(ledger=ledger, engine=engine)
    real_get_logs = first._get_logs
    overtaken = []

    def overtaken_while_reading(start: int, end: int) -> Any:
        read = real_get_logs(start, end)
        if not overtaken:
            overtaken.append(second.sync())  # the other replica commits the same range first
        return read

    monkeypatch.setattr(first, "_get_logs", overtaken_while_reading)

    report = first.sync()

    assert overtaken[0].events > 0
    assert report.events == 0  # its own read of the range was discarded, not applied again
    assert first.lag() == 0
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        Indexer(ledger=ledger, engine=reference).sync()
        assert dump(engine) == dump(reference)
    finally:
        reference.dispose()


# --- rebuilding --------------------------------------------------------------------------------


def test_reindex_gives_table_for_table_the_incremental_result(
    ledger: Ledger, engine: Engine, actors: Any
) -> None:
    chain = ledger.chain
    indexer = Indexer(ledger=ledger, engine=engine, batch_blocks=4)
    ids = a_lot_happens(ledger, actors)
    indexer.sync()
    snapshot = chain.snapshot()
    ledger.datasets.add_version(ids["x"], NewVersion(digest("orphan")), sender=actors.dept_a)
    indexer.sync()
    chain.revert(snapshot)
    add_version(ledger, actors.dept_a, ids["x"], "x/v4", VersionRef(ids["y"], 1))
    ledger.departments.reactivate_department(DEPT_B, sender=actors.governance)
    extra = ask(ledger, actors.dept_b, DEPT_B, ids["x"], "b-again")
    ledger.access.cancel_access_request(extra, sender=actors.dept_b)
    ledger.access.revoke_access(ids["grant"], digest("over"), sender=actors.dept_a)
    assert len(indexer.sync().reorgs) == 1
    incremental = dump(engine)

    report = indexer.reindex()

    assert report.from_block == ledger.deployment.start_block
    assert report.reorgs == ()
    assert dump(engine) == incremental
    assert row(engine, DATASETS, dataset_id=hx(ids["x"]))["version_count"] == 4
    assert ledger.datasets.dataset(ids["x"]).version_count == 4


def test_reindex_drops_only_the_index_tables(
    ledger: Ledger, indexer: Indexer, engine: Engine
) -> None:
    indexer.sync()
    others = MetaData()
    bystander = Table(
        "index_test_bystander_not_ours", others, Column("n", Integer, primary_key=True)
    )
    others.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(insert(bystander).values(n=7))

        indexer.reindex()

        with engine.connect() as conn:
            assert conn.execute(select(bystander.c.n)).scalars().all() == [7]
        assert indexer.lag() == 0
    finally:
        others.drop_all(engine)


def test_rebuilding_the_projections_from_the_events_changes_nothing(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any
) -> None:
    a_lot_happens(ledger, actors)
    indexer.sync()
    before = dump(engine)

    with engine.begin() as conn:
        replayed = projections.rebuild(conn)

    assert replayed == len(before["index_events"])
    assert dump(engine) == before


def test_the_schema_holds_the_largest_values_the_contracts_emit(engine: Engine) -> None:
    # PostgreSQL's INTEGER is 32-bit signed: a uint32 version or a uint64 id must be BIGINT.
    IndexState.metadata.create_all(engine, tables=[*INDEX_TABLES, projections.QUEUED])
    biggest_id, biggest_version = 2**63 - 1, 2**32 - 1
    dataset, ones = "0x" + "11" * 32, "0x" + "ff" * 32
    at = {"tx_hash": ones, "block_number": 2**62, "block_hash": ones, "block_time": 2**62}
    events = [
        ("DatasetCreated", {"datasetId": dataset, "owner": biggest_id, "salt": ones,
                            "classification": 3, "metadataHash": ones}),
        ("VersionAdded", {"datasetId": dataset, "contentHash": ones, "department": biggest_id,
                          "version": biggest_version, "metadataHash": ones, "historyHead": ones,
                          "parents": [{"datasetId": dataset, "version": biggest_version - 1}]}),
        ("AccessRequested", {"requestId": ones, "datasetId": dataset, "requester": biggest_id,
                             "salt": ones, "purposeHash": ones, "requestedDuration": 3650 * DAY}),
        ("AccessApproved", {"requestId": ones, "datasetId": dataset, "requester": biggest_id,
                            "expiresAt": biggest_id}),
        ("BatchAnchored", {"root": ones, "department": biggest_id, "size": 2**32,
                           "metadataHash": ones}),
        ("EncryptionKeyPublished", {"departmentId": biggest_id, "serial": biggest_version,
                                    "kemId": 0xFFFF, "keyHash": ones,
                                    "publicKey": "0x" + "ab" * 1216}),
    ]  # fmt: skip

    with engine.begin() as conn:
        for log_index, (name, args) in enumerate(events):
            projections.apply(conn, {**at, "log_index": log_index, "event": name, "args": args})

    assert row(engine, DATASETS)["version_count"] == biggest_version
    assert row(engine, DATASETS)["classification"] == "confidential"
    assert row(engine, VERSIONS)["department_id"] == biggest_id
    assert row(engine, VERSION_PARENTS)["parent_version"] == biggest_version - 1
    assert row(engine, ACCESS_REQUESTS)["expires_at"] == biggest_id
    assert row(engine, ANCHORS)["size"] == 2**32
    key = row(engine, ENCRYPTION_KEYS)
    assert (key["department_id"], key["serial"]) == (biggest_id, biggest_version)
    assert len(key["public_key"]) == 2 + 2 * 1216


# --- failure and safety ------------------------------------------------------------------------


def test_a_failure_inside_a_range_leaves_nothing_of_it(
    ledger: Ledger, indexer: Indexer, engine: Engine, actors: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer.sync()
    before = dump(engine)
    create_dataset(ledger, actors.dept_a, DEPT_A, "crash")
    real_apply = projections.apply

    def crash_on_versions(conn: Any, event: Any) -> None:
        real_apply(conn, event)
        if event["event"] == "VersionAdded":
            raise RuntimeError("power cut")

    monkeypatch.setattr(projections, "apply", crash_on_versions)
    with pytest.raises(RuntimeError, match="power cut"):
        indexer.sync()
    assert dump(engine) == before  # the DatasetCreated applied before the crash is gone too

    monkeypatch.setattr(projections, "apply", real_apply)
    indexer.sync()
    assert (
        row(
            engine,
            DATASETS,
            dataset_id=hx(DatasetRegistryClient.dataset_id_of(DEPT_A, digest("crash"))),
        )["version_count"]
        == 1
    )


def test_an_index_of_another_deployment_is_refused(
    ledger: Ledger, indexer: Indexer, engine: Engine
) -> None:
    indexer.sync()
    elsewhere = dataclasses.replace(
        ledger.deployment, start_block=ledger.deployment.start_block + 1
    )

    with pytest.raises(ChainMismatchError, match="another deployment"):
        Indexer(ledger=Ledger(ledger.chain, elsewhere), engine=engine).sync()


class _CappedLogs:
    """The indexer's log query on a node that refuses queries over more than ``cap`` blocks,
    as public RPC providers do."""

    def __init__(self, fetch: Any, cap: int) -> None:
        self._fetch, self.cap, self.refused = fetch, cap, 0

    def __call__(self, start: int, end: int) -> Any:
        if end - start + 1 > self.cap:
            self.refused += 1
            raise ValueError("query exceeds max block range")
        return self._fetch(start, end)


def test_a_refused_log_query_is_retried_over_a_smaller_range(
    ledger: Ledger,
    indexer: Indexer,
    engine: Engine,
    actors: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    a_lot_happens(ledger, actors)
    capped = _CappedLogs(indexer._fetch_logs, cap=4)
    monkeypatch.setattr(indexer, "_fetch_logs", capped)

    indexer.sync()

    assert capped.refused > 0
    assert indexer.lag() == 0
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    try:
        Indexer(ledger=ledger, engine=reference).sync()
        assert dump(engine) == dump(reference)
    finally:
        reference.dispose()


def test_run_survives_an_unavailable_chain_and_stops_when_asked(
    ledger: Ledger,
    indexer: Indexer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_head = indexer._head
    failures = iter([True, True])

    def flaky_head() -> int:
        if next(failures, False):
            raise ChainUnavailableError("the chain is unreachable: connection refused")
        return real_head()

    monkeypatch.setattr(indexer, "_head", flaky_head)
    stop = threading.Event()
    caplog.set_level(logging.WARNING, logger="ledger.index.indexer")
    thread = threading.Thread(target=indexer.run, args=(stop,), kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while indexer.last_indexed_block() != ledger.chain.w3.eth.block_number:
            assert thread.is_alive()
            assert time.monotonic() < deadline, "the indexer did not catch up"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert sum("unreachable" in r.getMessage() for r in caplog.records) == 2
