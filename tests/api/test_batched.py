"""Batched anchoring over HTTP: many records, one signed root, a proof for each record."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table
from sqlalchemy import select as select_table
from sqlmodel import Session, select

from ledger.anchoring.models import QueuedRecord
from ledger.errors import InvalidProofError
from ledger.index.models import ANCHORS, DATASETS, VERSION_PARENTS, VERSIONS
from ledger.merkle import record_leaf_hash, root_from_inclusion_proof
from ledger.runtime import Runtime
from ledger.verifier import Verifier, check_bundle


def _hex() -> str:
    return "0x" + os.urandom(32).hex()


def _new(title: str = "Daily readings", **extra: Any) -> dict[str, Any]:
    return {"content_hash": _hex(), "metadata": {"title": title}, **extra}


def _flush_and_relay(runtime: Runtime, relay: Callable[[], None]) -> None:
    runtime.batcher.tick(force=True)
    relay()
    runtime.batcher.tick()  # settles failures, if any
    runtime.indexer.sync()


def _operation(client: TestClient, headers: dict[str, str], op_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/operations/{op_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_bulk_registration_is_anchored_as_one_root_with_a_proof_per_record(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    a = departments["a"]
    records = [_new(f"file {i}") for i in range(5)]
    response = client.post("/v1/datasets/batch", json={"records": records}, headers=a)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["count"] == 5 and [r["version"] for r in accepted["records"]] == [1] * 5
    assert _operation(client, a, accepted["records"][0]["operation_id"])["status"] == "pending"

    _flush_and_relay(runtime, relay)

    roots = set()
    for sent, entry in zip(records, accepted["records"], strict=True):
        op = _operation(client, a, entry["operation_id"])
        assert op["status"] == "confirmed", op
        assert op["chain"]["contract"] == runtime.ledger.deployment.anchor_registry
        batch = op["result"]["batch"]
        roots.add(batch["root"])
        assert batch["size"] == 5
        digest = bytes.fromhex(op["result"]["record_digest"][2:])
        proof = [bytes.fromhex(h[2:]) for h in batch["proof"]]
        root = bytes.fromhex(batch["root"][2:])
        computed = root_from_inclusion_proof(
            batch["leaf_index"], 5, record_leaf_hash(digest), proof
        )
        assert computed == root
        # The contract's own proof check agrees, and the anchor names department a (21).
        anchors = runtime.ledger.anchors
        assert anchors.verify_inclusion(root, batch["leaf_index"], digest, proof)
        assert anchors.anchor(root).department == 21
        assert op["result"]["content_hash"] == sent["content_hash"]
    assert len(roots) == 1

    # Per-record semantics: each is a dataset with version 1, owned by a, in the index.
    dataset_id = accepted["records"][2]["dataset_id"]
    shown = client.get(f"/v1/datasets/{dataset_id}", headers=a)
    assert shown.status_code == 200, shown.text
    assert shown.json()["owner"] == 21
    assert shown.json()["anchoring"] == "batch"
    version = client.get(f"/v1/datasets/{dataset_id}/versions/1", headers=a).json()
    assert version["anchor"]["leaf_index"] == 2
    assert version["anchor"]["root"] == roots.pop()


def test_versions_and_lineage_follow_on_within_one_request_and_across_requests(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    a = departments["a"]
    salt = _hex()
    first = client.post("/v1/datasets/batch", json={"records": [_new(salt=salt)]}, headers=a)
    dataset_id = first.json()["records"][0]["dataset_id"]
    derived = _new("derived", parents=[{"dataset_id": dataset_id, "version": 1}])
    second = client.post(
        "/v1/datasets/batch",
        json={
            "records": [
                {"content_hash": _hex(), "dataset_id": dataset_id, "metadata": {"note": "v2"}},
                {"content_hash": _hex(), "dataset_id": dataset_id},
                derived,
            ]
        },
        headers=a,
    )
    assert second.status_code == 202, second.text
    assert [r["version"] for r in second.json()["records"]] == [2, 3, 1]
    single = client.post(
        f"/v1/datasets/{dataset_id}/versions", json={"content_hash": _hex()}, headers=a
    )
    assert single.status_code == 202, single.text
    assert single.json()["resource"]["version"] == 4

    _flush_and_relay(runtime, relay)
    assert _operation(client, a, single.json()["operation_id"])["status"] == "confirmed"
    shown = client.get(f"/v1/datasets/{dataset_id}", headers=a).json()
    assert shown["version_count"] == 4
    lineage = client.get(f"/v1/datasets/{dataset_id}/lineage", headers=a)
    assert lineage.status_code == 200, lineage.text


def test_another_department_cannot_add_to_a_batched_dataset_and_nothing_is_stored(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
) -> None:
    a, b = departments["a"], departments["b"]
    created = client.post("/v1/datasets/batch", json={"records": [_new()]}, headers=a).json()
    dataset_id = created["records"][0]["dataset_id"]
    response = client.post(
        "/v1/datasets/batch",
        json={"records": [_new(), {"content_hash": _hex(), "dataset_id": dataset_id}]},
        headers=b,
    )
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "records[1]" in response.json()["detail"]
    with Session(runtime.engine) as session:
        rows = session.exec(select(QueuedRecord)).all()
    assert [r.department_id for r in rows] == [21]  # b's first record was not kept either


def test_bad_records_are_refused_with_the_index_of_the_first_bad_one(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    a = departments["a"]
    cases = [
        ({"records": []}, 422),
        ({"records": [{"content_hash": "0x12", "metadata": {"title": "x"}}]}, 422),
        ({"records": [{"content_hash": _hex(), "metadata": {}}]}, 422),  # title required
        ({"records": [_new(), _new(unknown=1)]}, 422),
        (
            {"records": [_new(), {"content_hash": "0x" + "00" * 32, "metadata": {"title": "x"}}]},
            422,
        ),
        ({"records": [_new(), {"content_hash": _hex(), "dataset_id": _hex()}]}, 404),
        ({"records": [_new(parents=[{"dataset_id": _hex(), "version": 1}])]}, 404),
    ]
    for body, status in cases:
        response = client.post("/v1/datasets/batch", json=body, headers=a)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_the_stored_record_is_exactly_what_the_client_was_told(
    client: TestClient, departments: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    sent = _new()
    created = client.post("/v1/datasets/batch", json={"records": [sent]}, headers=departments["a"])
    told = created.json()["records"][0]
    with Session(runtime.engine) as session:
        row = session.exec(select(QueuedRecord)).one()
    record = row.batch_record()
    assert "0x" + record.digest().hex() == row.digest
    assert row.id == told["operation_id"]
    assert "0x" + record.dataset_id.hex() == told["dataset_id"]
    assert "0x" + record.content_hash.hex() == sent["content_hash"]
    assert record.department_id == 21 and record.version == 1


def test_an_auditor_verifies_a_batched_record_and_its_bundle_checks_against_the_chain(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    content = _hex()
    body = {"records": [_new(), _new(content_hash=content), _new()]}
    accepted = client.post("/v1/datasets/batch", json=body, headers=departments["a"]).json()
    pending = client.post("/v1/verify", json={"content_hash": content}, headers=governance)
    assert pending.json()["matched"] is False  # not anchored yet: the chain does not vouch

    _flush_and_relay(runtime, relay)
    response = client.post("/v1/verify", json={"content_hash": content}, headers=governance)
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["matched"] and verdict["authentic"]
    (registration,) = verdict["registrations"]
    assert registration["dataset_id"] == accepted["records"][1]["dataset_id"]
    assert registration["department_id"] == 21
    assert registration["authorised_by"] == "signature"
    assert registration["signer"].lower() == registration["department_key"].lower()
    assert registration["contract"] == runtime.ledger.deployment.anchor_registry
    assert registration["anchor"]["leaf_index"] == 1 and registration["anchor"]["tree_size"] == 3

    bundle = json.dumps(verdict)
    verifier = Verifier.for_ledger(runtime.ledger)
    assert check_bundle(bundle, verifier=verifier).authentic
    # With only the dataset registry's address, as `provledger verify --bundle --contract`.
    bare = Verifier.at(runtime.chain, runtime.ledger.deployment.dataset_registry)
    assert check_bundle(bundle, verifier=bare).authentic

    forged = json.loads(bundle)
    lineage = [{"dataset_id": _hex(), "version": 1}]  # a lineage it never declared
    forged["registrations"][0]["anchor"]["record"]["parents"] = lineage
    forged["registrations"][0]["parents"] = lineage
    with pytest.raises(InvalidProofError, match="root"):
        check_bundle(json.dumps(forged))
    moved = json.loads(bundle)
    moved["registrations"][0]["anchor"]["leaf_index"] = 0
    with pytest.raises(InvalidProofError):
        check_bundle(json.dumps(moved), verifier=verifier)


def test_a_batch_flushes_when_full_or_old_and_not_before(
    client: TestClient, departments: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    batcher = runtime.batcher
    batcher.max_records, batcher.max_age = 2, 3600.0
    body = {"records": [_new(), _new(), _new()]}
    client.post("/v1/datasets/batch", json=body, headers=departments["a"])
    report = batcher.tick()
    assert (report.batches, report.records) == (1, 2)  # full: flushed at once
    assert batcher.tick().batches == 0  # the third is neither full nor old
    batcher.max_age = 0.0
    assert batcher.tick().records == 1


def test_records_of_a_department_suspended_before_its_batch_fail_with_the_reason(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    a = departments["a"]
    accepted = client.post("/v1/datasets/batch", json={"records": [_new()]}, headers=a).json()
    suspended = client.post(
        "/v1/departments/21/suspend", json={"reason": "audit"}, headers=governance
    )
    assert suspended.status_code == 202, suspended.text
    _flush_and_relay(runtime, relay)
    op = _operation(client, a, accepted["records"][0]["operation_id"])
    assert op["status"] == "failed"
    assert op["error"]["code"] == "DepartmentInactive"
    # And nothing new is accepted for it meanwhile.
    refused = client.post("/v1/datasets/batch", json={"records": [_new()]}, headers=a)
    assert refused.status_code == 403, refused.text


def test_a_reindex_rebuilds_batched_datasets_identically(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    a = departments["a"]
    first = client.post("/v1/datasets/batch", json={"records": [_new(), _new()]}, headers=a)
    dataset_id = first.json()["records"][0]["dataset_id"]
    parent = {"dataset_id": dataset_id, "version": 1}
    client.post(
        "/v1/datasets/batch",
        json={"records": [{"content_hash": _hex(), "dataset_id": dataset_id, "parents": [parent]}]},
        headers=a,
    )
    _flush_and_relay(runtime, relay)
    withdrawn = client.post(f"/v1/datasets/{dataset_id}/withdraw", json={"reason": "x"}, headers=a)
    assert withdrawn.status_code == 202, withdrawn.text
    _flush_and_relay(runtime, relay)

    def index() -> dict[str, list[dict[str, Any]]]:
        with runtime.engine.connect() as conn:
            return {
                table.name: [dict(r) for r in conn.execute(select_all(table)).mappings()]
                for table in (DATASETS, VERSIONS, VERSION_PARENTS, ANCHORS)
            }

    before = index()
    assert {d["dataset_id"]: d["status"] for d in before["index_datasets"]}[dataset_id] == (
        "withdrawn"
    )
    assert len([v for v in before["index_versions"] if v["anchor_root"]]) == 3
    assert before["index_version_parents"][0]["parent_dataset_id"] == dataset_id
    runtime.indexer.reindex()
    assert index() == before


def select_all(table: Table) -> Any:
    return select_table(table).order_by(*table.primary_key.columns)
