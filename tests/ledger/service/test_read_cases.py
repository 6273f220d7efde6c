"""What each principal reads, as the read use cases answer it (no HTTP): datasets and their
metadata, lineage, the audit trail, access requests, departments, operations, verdicts."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from ledger.chain.types import VersionRef
from ledger.errors import ResourceNotFoundError
from ledger.hashing import Digest
from ledger.relayer import OperationStatus
from ledger.runtime import Runtime
from ledger.service import access, access_reads, batched, datasets, department_reads, reads
from ledger.service.operations import find_operation
from ledger.service.principal import Principal
from ledger.service.queued import Queued
from ledger.service.verification import VerdictCache, verify_digest
from tests.ledger.service.conftest import AUDITOR, DEPT_A, DEPT_B, GOVERNANCE, department

DAY = 24 * 3600


def act(runtime: Runtime, who: Principal, case: Callable[..., Any], command: object) -> Any:
    with Session(runtime.engine, expire_on_commit=False) as session:
        result = case(session, runtime, who, command)
        session.commit()
    return result


def ask(runtime: Runtime, who: Principal, read: Callable[..., Any], query: object) -> Any:
    with Session(runtime.engine) as session:
        return read(session, runtime, who, query)


@pytest.fixture
def ledger_state(runtime: Runtime, relay: Callable[[], None]) -> dict[str, Any]:
    """A's confidential dataset on chain (with a derived second dataset of B's), a confidential
    batched dataset of A's, and B's pending request for A's dataset; all mined, anchored and
    indexed."""
    content = os.urandom(32)
    on_chain: Queued = act(
        runtime,
        department(DEPT_A),
        datasets.register_dataset,
        datasets.NewDataset(
            content_hash=content, metadata={"title": "Beds"}, classification="confidential"
        ),
    )
    relay()
    parent = bytes.fromhex(on_chain.resource["dataset_id"][2:])
    derived: Queued = act(
        runtime,
        department(DEPT_B),
        datasets.register_dataset,
        datasets.NewDataset(
            content_hash=os.urandom(32),
            metadata={"title": "Beds by region"},
            parents=(VersionRef(parent, 1),),
        ),
    )
    secret = act(
        runtime,
        department(DEPT_A),
        batched.register_one,
        batched.BatchedEntry(
            content_hash=os.urandom(32),
            metadata={"title": "Staff"},
            classification="confidential",
        ),
    )
    runtime.batcher.flush(DEPT_A)
    request: Queued = act(
        runtime,
        department(DEPT_B),
        access.request_access,
        access.RequestAccess(dataset_id=parent, purpose="capacity planning", duration_seconds=DAY),
    )
    relay()
    runtime.indexer.sync()
    return {
        "content": content,
        "dataset": on_chain.resource["dataset_id"],
        "derived": derived.resource["dataset_id"],
        "batched": secret.results[0]["dataset_id"],
        "batched_op": secret.operation_ids[0],
        "request": request.resource["request_id"],
        "request_op": request.operation.id,
    }


def listed(runtime: Runtime, who: Principal, ours: dict[str, Any]) -> set[str]:
    """Which of this test's datasets ``who`` sees listed (the shared chain holds others')."""
    answer = ask(runtime, who, reads.list_datasets, reads.DatasetListing(limit=500))
    return {item["dataset_id"] for item in answer["items"]} & {
        ours["dataset"],
        ours["derived"],
        ours["batched"],
    }


def test_chain_facts_are_everyones_but_a_batched_dataset_only_its_owners_and_overseers(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    public = {ledger_state["dataset"], ledger_state["derived"]}
    assert listed(runtime, department(DEPT_B), ledger_state) == public
    assert listed(runtime, department(DEPT_A), ledger_state) == public | {ledger_state["batched"]}
    assert listed(runtime, AUDITOR, ledger_state) == public | {ledger_state["batched"]}
    with pytest.raises(ResourceNotFoundError):
        ask(runtime, department(DEPT_B), reads.get_dataset, ledger_state["batched"])


def test_metadata_is_shown_to_the_owner_and_hidden_from_a_department_without_a_grant(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    own = ask(runtime, department(DEPT_A), reads.get_dataset, ledger_state["dataset"])
    assert own["metadata"]["title"] == "Beds" and own["metadata_visible"] is True
    other = ask(runtime, department(DEPT_B), reads.get_dataset, ledger_state["dataset"])
    assert other["metadata"] is None and other["metadata_visible"] is False
    assert other["metadata_hash"] == own["metadata_hash"]  # the commitment is on chain
    assert [v["version"] for v in own["versions"]] == [1]


def test_a_missing_version_is_not_found_by_name(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    lookup = reads.VersionLookup(ledger_state["dataset"], 2)
    with pytest.raises(ResourceNotFoundError, match="has no version 2"):
        ask(runtime, AUDITOR, reads.get_version, lookup)


def test_lineage_walks_to_children_and_parents(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    down = ask(runtime, AUDITOR, reads.get_lineage, reads.LineageWalk(ledger_state["dataset"]))
    assert [edge["child"]["dataset_id"] for edge in down["descendants"]] == [
        ledger_state["derived"]
    ]
    assert down["ancestors"] == []
    up = ask(runtime, AUDITOR, reads.get_lineage, reads.LineageWalk(ledger_state["derived"], 1))
    assert [edge["parent"]["dataset_id"] for edge in up["ancestors"]] == [ledger_state["dataset"]]


def test_a_department_reads_only_its_own_audit_trail(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    with pytest.raises(ResourceNotFoundError, match="its own audit trail"):
        ask(runtime, department(DEPT_B), reads.audit_events, reads.AuditQuery(department_id=DEPT_A))
    mine = ask(runtime, department(DEPT_B), reads.audit_events, reads.AuditQuery())
    assert mine["items"] and all(
        DEPT_B in {int(v) for k, v in e["args"].items() if k in ("departmentId", "requester")}
        or e["args"].get("datasetId") == ledger_state["derived"]
        for e in mine["items"]
    )
    everything = ask(runtime, AUDITOR, reads.audit_events, reads.AuditQuery())
    assert len(everything["items"]) > len(mine["items"])


def test_the_purpose_of_a_request_is_for_its_parties_and_overseers_only(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    request = ledger_state["request"]
    for party in (department(DEPT_A), department(DEPT_B), AUDITOR, GOVERNANCE):
        answer = ask(runtime, party, access_reads.get_access_request, request)
        assert answer["purpose"] == "capacity planning" and answer["status"] == "pending"
    outsider = department(99)
    answer = ask(runtime, outsider, access_reads.get_access_request, request)
    assert answer["purpose"] is None and answer["texts_visible"] is False
    incoming = access_reads.RequestListing(role=access_reads.Role.INCOMING)
    assert [r["request_id"] for r in ask(runtime, department(DEPT_A),
            access_reads.list_access_requests, incoming)["items"]] == [request]  # fmt: skip
    assert (
        ask(runtime, department(DEPT_B), access_reads.list_access_requests, incoming)["items"] == []
    )


def test_has_access_answers_from_the_contract_and_refuses_blocks_not_mined(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    question = access_reads.AccessQuestion(ledger_state["dataset"], DEPT_B)
    assert ask(runtime, AUDITOR, access_reads.has_access, question)["has_access"] is False
    head, _ = runtime.chain.head()
    future = access_reads.AccessQuestion(ledger_state["dataset"], DEPT_B, head + 10)
    with pytest.raises(ResourceNotFoundError, match="not mined yet"):
        ask(runtime, AUDITOR, access_reads.has_access, future)


def test_a_department_reads_its_own_signature_nonces_only(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    nonces = ask(runtime, department(DEPT_A), department_reads.signature_nonces, DEPT_A)
    assert nonces["nonces"]["DatasetRegistry"]["next_nonce"] >= 1
    with pytest.raises(ResourceNotFoundError):
        ask(runtime, department(DEPT_B), department_reads.signature_nonces, DEPT_A)
    with pytest.raises(ResourceNotFoundError, match="no department 77"):
        ask(runtime, AUDITOR, department_reads.get_department, 77)


def test_an_operation_is_seen_by_its_department_and_governance_only(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    op_id = ledger_state["request_op"]
    with Session(runtime.engine) as session:
        mine = find_operation(session, runtime, department(DEPT_B), op_id)
        assert mine is not None and mine.status == OperationStatus.CONFIRMED
        assert mine.confirmations >= runtime.settings.confirmations
        assert find_operation(session, runtime, GOVERNANCE, op_id) is not None
        assert find_operation(session, runtime, department(DEPT_A), op_id) is None
        assert find_operation(session, runtime, AUDITOR, op_id) is None
        record = find_operation(session, runtime, department(DEPT_A), ledger_state["batched_op"])
    assert record is not None and record.kind == "datasets.create"
    assert record.result["batch"]["leaf_index"] == 0 and record.chain.tx_hash is not None


def test_a_verdict_names_the_registration_and_is_served_again_from_the_cache(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    cache = VerdictCache(capacity=8)
    digest = Digest(ledger_state["content"])
    verdict = verify_digest(runtime, cache, digest)
    assert verdict["matched"] and verdict["authentic"]
    assert [r["dataset_id"] for r in verdict["registrations"]] == [ledger_state["dataset"]]
    assert verify_digest(runtime, cache, digest) is verdict  # same head: the cached answer
    unknown = verify_digest(runtime, cache, Digest(os.urandom(32)))
    assert unknown["matched"] is False and unknown["registrations"] == []
