"""What each principal reads of datasets, versions, lineage and the audit trail, as the read use
cases answer it (no HTTP): the chain's facts for everyone, metadata and batched records on a
need-to-know basis."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from ledger.chain.types import VersionRef
from ledger.errors import InvalidInputError, ResourceNotFoundError
from ledger.runtime import Runtime
from ledger.service import datasets, reads
from ledger.service.principal import Principal
from tests.ledger.service.conftest import AUDITOR, DEPT_A, DEPT_B, act, ask, department


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


def test_a_datasets_own_version_edges_are_listed_once_not_as_ancestors_and_descendants(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    dataset = ledger_state["dataset"]
    act(
        runtime,
        department(DEPT_A),
        datasets.append_version,
        datasets.AppendVersion(
            dataset_id=bytes.fromhex(dataset[2:]),
            content_hash=os.urandom(32),
            parents=(VersionRef(bytes.fromhex(dataset[2:]), 1),),
        ),
    )
    relay()
    runtime.indexer.sync()
    own = {"child": {"dataset_id": dataset, "version": 2},
           "parent": {"dataset_id": dataset, "version": 1}}  # fmt: skip

    whole = ask(runtime, AUDITOR, reads.get_lineage, reads.LineageWalk(dataset))
    assert whole["within"] == [{"depth": 0, **own}]
    assert [e["child"]["dataset_id"] for e in whole["descendants"]] == [ledger_state["derived"]]
    assert whole["ancestors"] == []

    # From version 2 alone, version 1 is an ancestor, and version 2's children are below it.
    second = ask(runtime, AUDITOR, reads.get_lineage, reads.LineageWalk(dataset, 2))
    assert second["ancestors"] == [{"depth": 1, **own}]
    assert second["within"] == [] and second["descendants"] == []


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


def test_the_audit_trail_filters_by_event_or_by_category_and_refuses_unknown_kinds(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    def kinds(kind: str) -> set[str]:
        answer = ask(runtime, AUDITOR, reads.audit_events, reads.AuditQuery(event=kind))
        return {e["event"] for e in answer["items"]}

    assert kinds("access") == kinds("Access") == {"AccessRequested"}
    assert kinds("AccessRequested") == {"AccessRequested"}
    assert kinds("dataset") == {"DatasetCreated", "VersionAdded"}
    assert "DepartmentEnrolled" in kinds("department")
    assert kinds("anchor") == {"BatchAnchored"}
    with pytest.raises(InvalidInputError, match="did you mean VersionAdded"):
        kinds("versionadded")
    categories = r"category \(access, anchor, dataset, department\)"
    with pytest.raises(InvalidInputError, match=categories):
        kinds("Bogus")
