"""Reading the ledger from the index: what each token may see, lineage, the audit trail."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.runtime import Runtime


@pytest.fixture
def ledger_state(
    client: TestClient,
    enrol: Callable[[dict[int, str]], dict[str, dict[str, str]]],
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
) -> dict[str, Any]:
    """a (51) owns a public source and a restricted derived dataset; b (52) and c (53) exist."""
    headers = enrol({51: "a", 52: "b", 53: "c"})

    def register(classification: str, parents: list[dict[str, Any]] | None = None) -> str:
        response = client.post(
            "/v1/datasets",
            json={
                "content_hash": "0x" + os.urandom(32).hex(),
                "classification": classification,
                "metadata": {"title": f"{classification} data", "tags": ["test"]},
                "parents": parents or [],
            },
            headers=headers["a"],
        )
        relay()
        return str(response.json()["resource"]["dataset_id"])

    source = register("public")
    restricted = register("restricted", [{"dataset_id": source, "version": 1}])
    runtime.indexer.sync()
    auditor = client.post("/v1/auditors", json={}, headers=governance).json()
    headers["auditor"] = {"Authorization": f"Bearer {auditor['token']}"}
    return {"headers": headers, "source": source, "restricted": restricted}


def test_a_dataset_reads_back_with_metadata_versions_and_chain_coordinates(
    client: TestClient, ledger_state: dict[str, Any], runtime: Runtime
) -> None:
    body = client.get(
        f"/v1/datasets/{ledger_state['source']}", headers=ledger_state["headers"]["a"]
    ).json()
    assert body["owner"] == 51 and body["classification"] == "public"
    assert body["metadata"]["title"] == "public data"
    assert body["version_count"] == 1 and len(body["versions"]) == 1
    block = runtime.chain.w3.eth.get_block(body["created"]["block_number"])
    assert block["hash"].to_0x_hex() == body["created"]["block_hash"]
    version = client.get(
        f"/v1/datasets/{ledger_state['source']}/versions/1", headers=ledger_state["headers"]["b"]
    ).json()
    assert version["content_hash"] == body["versions"][0]["content_hash"]


def test_restricted_metadata_is_need_to_know_but_its_chain_facts_are_not(
    client: TestClient, ledger_state: dict[str, Any]
) -> None:
    headers, restricted = ledger_state["headers"], ledger_state["restricted"]
    for who in ("a", "auditor"):
        shown = client.get(f"/v1/datasets/{restricted}", headers=headers[who]).json()
        assert shown["metadata"]["title"] == "restricted data" and shown["metadata_visible"]
    by_b = client.get(f"/v1/datasets/{restricted}", headers=headers["b"])
    assert by_b.status_code == 200  # every node of the consortium serves these facts
    shown = by_b.json()
    assert shown["owner"] == 51 and shown["classification"] == "restricted"
    assert shown["metadata"] is None and shown["metadata_visible"] is False
    assert shown["metadata_hash"].startswith("0x")  # the commitment is on chain
    assert [v["metadata"] for v in shown["versions"]] == [None]
    assert shown["versions"][0]["parents"] == [{"dataset_id": ledger_state["source"], "version": 1}]
    listed_by_b = {
        d["dataset_id"]: d for d in client.get("/v1/datasets", headers=headers["b"]).json()["items"]
    }
    assert listed_by_b[restricted]["metadata"] is None
    assert listed_by_b[ledger_state["source"]]["metadata"]["title"] == "public data"


def test_lineage_names_every_chain_dataset_and_no_batched_one_the_token_may_not_see(
    client: TestClient, ledger_state: dict[str, Any], runtime: Runtime, relay: Callable[[], None]
) -> None:
    headers, source = ledger_state["headers"], ledger_state["source"]
    batched = client.post(
        "/v1/datasets/batch",
        json={"records": [{"content_hash": "0x" + os.urandom(32).hex(),
                           "classification": "confidential",
                           "parents": [{"dataset_id": source, "version": 1}],
                           "metadata": {"title": "batched child"}}]},
        headers=headers["a"],
    )  # fmt: skip
    assert batched.status_code == 202, batched.text
    hidden = batched.json()["records"][0]["dataset_id"]
    runtime.batcher.tick(force=True)
    relay()
    runtime.batcher.tick()
    runtime.indexer.sync()

    def children(who: str) -> set[str]:
        answer = client.get(f"/v1/datasets/{source}/lineage", headers=headers[who]).json()
        return {e["child"]["dataset_id"] for e in answer["descendants"]}

    assert children("a") == children("auditor") == {ledger_state["restricted"], hidden}
    # c sees the restricted child (on chain) but not the batched one (only a root on chain).
    assert children("c") == {ledger_state["restricted"]}
    assert client.get(f"/v1/datasets/{hidden}", headers=headers["c"]).status_code == 404
    assert client.get(f"/v1/datasets/{hidden}/lineage", headers=headers["c"]).status_code == 404
    listed = {
        d["dataset_id"] for d in client.get("/v1/datasets", headers=headers["c"]).json()["items"]
    }
    assert hidden not in listed and ledger_state["restricted"] in listed


def test_lineage_walks_both_ways(client: TestClient, ledger_state: dict[str, Any]) -> None:
    headers = ledger_state["headers"]["a"]
    down = client.get(f"/v1/datasets/{ledger_state['source']}/lineage", headers=headers).json()
    up = client.get(f"/v1/datasets/{ledger_state['restricted']}/lineage", headers=headers).json()
    assert [e["child"]["dataset_id"] for e in down["descendants"]] == [ledger_state["restricted"]]
    assert [e["parent"]["dataset_id"] for e in up["ancestors"]] == [ledger_state["source"]]
    assert (
        client.get(
            f"/v1/datasets/{ledger_state['source']}/lineage?depth=99", headers=headers
        ).status_code
        == 422
    )


def test_the_audit_trail_is_filtered_and_paginated(
    client: TestClient, ledger_state: dict[str, Any]
) -> None:
    auditor = ledger_state["headers"]["auditor"]
    page = client.get("/v1/audit/events", params={"limit": 2}, headers=auditor).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        "/v1/audit/events", params={"cursor": page["next_cursor"]}, headers=auditor
    ).json()
    everything = page["items"] + rest["items"]
    positions = [(e["chain"]["block_number"], e["chain"]["log_index"]) for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    versions = client.get(
        "/v1/audit/events", params={"kind": "VersionAdded"}, headers=auditor
    ).json()["items"]
    assert {e["args"]["datasetId"] for e in versions} == {
        ledger_state["source"],
        ledger_state["restricted"],
    }
    mine = client.get("/v1/audit/events", headers=ledger_state["headers"]["c"]).json()["items"]
    assert all(e["event"] == "DepartmentEnrolled" and e["args"]["departmentId"] == 53 for e in mine)
    assert (
        client.get(
            "/v1/audit/events", params={"department": 51}, headers=ledger_state["headers"]["c"]
        ).status_code
        == 404
    )
    assert (
        client.get("/v1/audit/events", params={"cursor": "!!"}, headers=auditor).status_code == 422
    )
    datasets_events = client.get(
        "/v1/audit/events", params={"kind": "dataset"}, headers=auditor
    ).json()["items"]
    assert {e["event"] for e in datasets_events} == {"DatasetCreated", "VersionAdded"}
    unknown = client.get("/v1/audit/events", params={"kind": "Bogus"}, headers=auditor)
    assert unknown.status_code == 422 and "kind" in unknown.text  # not an empty trail


def test_a_revoked_grant_hides_the_metadata_before_the_indexer_sees_the_revocation(
    client: TestClient, ledger_state: dict[str, Any], runtime: Runtime, relay: Callable[[], None]
) -> None:
    headers, restricted = ledger_state["headers"], ledger_state["restricted"]
    asked = client.post(
        f"/v1/datasets/{restricted}/access-requests",
        json={"purpose": "linkage", "duration_seconds": 86400},
        headers=headers["b"],
    )
    relay()
    request_id = asked.json()["resource"]["request_id"]
    expires = runtime.chain.w3.eth.get_block("latest")["timestamp"] + 3600
    client.post(
        f"/v1/access-requests/{request_id}/approve",
        json={"expires_at": expires},
        headers=headers["a"],
    )
    relay()
    runtime.indexer.sync()

    def metadata_for_b() -> tuple[Any, Any]:
        one = client.get(f"/v1/datasets/{restricted}", headers=headers["b"]).json()
        listed = client.get("/v1/datasets", headers=headers["b"]).json()["items"]
        return one["metadata"], next(d for d in listed if d["dataset_id"] == restricted)["metadata"]

    one, listed = metadata_for_b()
    assert one == listed and one["title"] == "restricted data"

    client.post(f"/v1/grants/{request_id}/revoke", json={"reason": "done"}, headers=headers["a"])
    relay()  # mined, but the indexer has not run: the index still says "approved"
    assert metadata_for_b() == (None, None)


def test_listing_pages_past_long_runs_of_datasets_the_token_cannot_see(
    client: TestClient, ledger_state: dict[str, Any], relay: Callable[[], None], runtime: Runtime
) -> None:
    headers = ledger_state["headers"]
    # More hidden rows than any fixed over-fetch (the old listing read limit * 4 + 50 rows):
    # batched restricted datasets, which exist for b only on a need to know.
    records = [
        {"content_hash": "0x" + os.urandom(32).hex(), "classification": "restricted",
         "metadata": {"title": "hidden"}}
        for _ in range(60)
    ]  # fmt: skip
    created = client.post("/v1/datasets/batch", json={"records": records}, headers=headers["a"])
    assert created.status_code == 202, created.text
    runtime.batcher.tick(force=True)
    relay()
    runtime.batcher.tick()
    runtime.indexer.sync()
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = client.get(
            "/v1/datasets", params={"limit": 1, **({"cursor": cursor} if cursor else {})},
            headers=headers["b"],
        ).json()  # fmt: skip
        seen += [d["dataset_id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # 60 hidden datasets stand between b and the two on chain, which it may see.
    assert seen == [ledger_state["restricted"], ledger_state["source"]]
    everything = client.get("/v1/datasets", params={"limit": 500}, headers=headers["a"]).json()
    assert len(everything["items"]) == 62 and everything["next_cursor"] is None
