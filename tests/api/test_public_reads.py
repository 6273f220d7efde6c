"""Reads without a token, where the service serves the chain to anyone: a caller with no token
reads what the chain records (datasets, versions, lineage, provenance, departments, verdicts of
registrations by contract call) and nothing that is need-to-know (metadata documents, purposes,
batched records, operations, the audit trail). A token that is sent must be valid."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.runtime import Runtime

DAY = 24 * 3600


def _hash() -> str:
    return "0x" + os.urandom(32).hex()


@pytest.fixture
def shared(
    client: TestClient,
    governance: dict[str, str],
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> dict[str, Any]:
    """a (21) owns a confidential dataset on chain, ``source``; b (22) derived a public one,
    ``derived``, from it and was granted access to ``source`` for a stated purpose; a also
    registered ``source``'s bytes again as a confidential batched record derived from it."""
    a, b = departments["a"], departments["b"]

    def entry(content: str, classification: str, title: str, *parents: str) -> dict[str, Any]:
        return {
            "content_hash": content,
            "classification": classification,
            "metadata": {"title": title},
            "parents": [{"dataset_id": parent, "version": 1} for parent in parents],
        }

    content, derived_content = _hash(), _hash()
    source = client.post(
        "/v1/datasets", json=entry(content, "confidential", "Hospital beds"), headers=a
    ).json()["resource"]["dataset_id"]
    relay()
    derived = client.post(
        "/v1/datasets",
        json=entry(derived_content, "public", "Beds by region", source),
        headers=b,
    ).json()["resource"]["dataset_id"]
    record = entry(content, "confidential", "Beds, staff copy", source)
    batched = client.post("/v1/datasets/batch", json={"records": [record]}, headers=a).json()
    request_id = client.post(
        f"/v1/datasets/{source}/access-requests",
        json={"purpose": "winter pressures", "duration_seconds": 30 * DAY},
        headers=b,
    ).json()["resource"]["request_id"]
    relay()
    runtime.batcher.tick(force=True)
    relay()
    approved = client.post(
        f"/v1/access-requests/{request_id}/approve",
        json={"expires_at": runtime.chain.block_time() + 7 * DAY},
        headers=a,
    )
    assert approved.status_code == 202, approved.text
    relay()
    runtime.indexer.sync()
    auditor = client.post("/v1/auditors", json={}, headers=governance).json()
    return {
        "a": a,
        "b": b,
        "auditor": {"Authorization": f"Bearer {auditor['token']}"},
        "content": content,
        "derived_content": derived_content,
        "source": source,
        "derived": derived,
        "batched": batched["records"][0]["dataset_id"],
        "batched_operation": batched["records"][0]["operation_id"],
        "request": request_id,
    }


def _verdict(client: TestClient, content: str, headers: dict[str, str] | None = None) -> Any:
    response = client.post("/v1/verify", json={"content_hash": content}, headers=headers or {})
    assert response.status_code == 200, response.text
    return {**response.json(), "verified_at_block": None}


# --- what anyone reads ------------------------------------------------------------------------


def test_anyone_verifies_a_registration_by_contract_call_as_a_token_holder_sees_it(
    client: TestClient, shared: dict[str, Any]
) -> None:
    anonymous = _verdict(client, shared["derived_content"])
    assert anonymous == _verdict(client, shared["derived_content"], shared["auditor"])
    assert anonymous["matched"] and anonymous["authentic"] and anonymous["status"] == "matched"
    [registration] = anonymous["registrations"]
    assert registration["dataset_id"] == shared["derived"]
    assert registration["department_id"] == 22
    assert registration["parents"] == [{"dataset_id": shared["source"], "version": 1}]
    for coordinate in ("tx_hash", "block_number", "block_hash", "log_index", "block_time"):
        assert registration[coordinate] is not None

    catalogue = client.post(
        "/v1/verify/batch", json={"content_hashes": [shared["derived_content"], _hash()]}
    )
    assert catalogue.status_code == 200, catalogue.text
    assert [r["status"] for r in catalogue.json()["results"]] == ["matched", "not-registered"]


@pytest.mark.parametrize("auditor_first", [False, True])
def test_a_batched_registration_is_left_out_of_a_verdict_for_anyone_without_a_need_to_know(
    client: TestClient, shared: dict[str, Any], auditor_first: bool
) -> None:
    # A verdict made (and kept) for an auditor is never answered whole to anyone else.
    if auditor_first:
        _verdict(client, shared["content"], shared["auditor"])
    anonymous = _verdict(client, shared["content"])
    whole = _verdict(client, shared["content"], shared["auditor"])

    assert [r["dataset_id"] for r in whole["registrations"]] == [
        shared["source"],
        shared["batched"],
    ]
    assert [r["dataset_id"] for r in anonymous["registrations"]] == [shared["source"]]
    assert all(r["anchor"] is None for r in anonymous["registrations"])
    assert anonymous == {**whole, "registrations": whole["registrations"][:1]}
    # b has a grant for the source, none for the batched copy: the same cut; a owns both.
    assert _verdict(client, shared["content"], shared["b"]) == anonymous
    assert _verdict(client, shared["content"], shared["a"]) == whole


def test_a_hash_registered_only_in_a_batch_is_not_registered_as_anyone_can_see(
    client: TestClient, shared: dict[str, Any], runtime: Runtime, relay: Callable[[], None]
) -> None:
    content = _hash()
    client.post(
        "/v1/datasets/batch",
        json={"records": [{"content_hash": content, "metadata": {"title": "Rota"}}]},
        headers=shared["a"],
    )
    runtime.batcher.tick(force=True)
    relay()
    runtime.indexer.sync()
    assert _verdict(client, content, shared["a"])["status"] == "matched"

    anonymous = _verdict(client, content)
    assert anonymous["status"] == "not-registered"
    assert anonymous["matched"] is False and anonymous["registrations"] == []
    catalogue = client.post("/v1/verify/batch", json={"content_hashes": [content]}).json()
    assert catalogue["counts"] == {"not-registered": 1}


def test_anyone_reads_a_datasets_chain_facts_but_never_its_metadata(
    client: TestClient, shared: dict[str, Any]
) -> None:
    for dataset in ("source", "derived"):  # confidential, and public
        answer = client.get(f"/v1/datasets/{shared[dataset]}")
        assert answer.status_code == 200, answer.text
        shown = answer.json()
        assert shown["metadata"] is None and shown["metadata_visible"] is False
        assert shown["versions"][0]["metadata"] is None
        assert shown["metadata_hash"].startswith("0x") and shown["created"]["tx_hash"]
    # The public dataset's metadata is any department's to read: it needs a token all the same.
    by_a = client.get(f"/v1/datasets/{shared['derived']}", headers=shared["a"]).json()
    assert by_a["metadata"]["title"] == "Beds by region"

    version = client.get(f"/v1/datasets/{shared['derived']}/versions/1").json()
    assert version["parents"] == [{"dataset_id": shared["source"], "version": 1}]
    assert version["metadata"] is None and version["chain"]["block_hash"].startswith("0x")


def test_anyone_follows_lineage_across_departments_but_not_into_a_batch(
    client: TestClient, shared: dict[str, Any]
) -> None:
    anonymous = client.get(f"/v1/datasets/{shared['source']}/lineage").json()
    children = {edge["child"]["dataset_id"] for edge in anonymous["descendants"]}
    assert children == {shared["derived"]}
    whole = client.get(f"/v1/datasets/{shared['source']}/lineage", headers=shared["auditor"])
    assert {e["child"]["dataset_id"] for e in whole.json()["descendants"]} == {
        shared["derived"],
        shared["batched"],
    }
    for path in ("", "/versions/1", "/lineage", "/provenance", "/grants"):
        hidden = client.get(f"/v1/datasets/{shared['batched']}{path}")
        assert hidden.status_code == 404, path

    provenance = client.get(f"/v1/datasets/{shared['derived']}/provenance")
    assert provenance.status_code == 200, provenance.text
    assert shared["batched"][2:] not in provenance.text
    assert "Beds by region" not in provenance.text


def test_anyone_reads_a_department_and_its_keys(client: TestClient, shared: dict[str, Any]) -> None:
    anonymous = client.get("/v1/departments/22")
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json() == client.get("/v1/departments/22", headers=shared["auditor"]).json()
    assert anonymous.json()["name"] == "b" and anonymous.json()["keys"]


def test_anyone_reads_who_has_access_now_and_who_had_it_at_a_past_time(
    client: TestClient, shared: dict[str, Any]
) -> None:
    url = f"/v1/datasets/{shared['source']}/grants"
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    now = answer.json()
    assert "winter pressures" not in answer.text  # the purpose is need-to-know
    [grant] = now["grants"]
    assert grant["request_id"] == shared["request"]
    assert grant["requester"] == {"department_id": 22, "name": "b"}
    assert grant["approved"]["tx_hash"].startswith("0x") and grant["ended"] is None
    assert now["indexed_block"] >= grant["approved"]["block_number"]
    assert now == client.get(url, headers=shared["auditor"]).json()

    approved = grant["approved_at"]
    before = client.get(url, params={"at": approved - 1}).json()
    assert before["grants"] == [] and before["as_of"] == approved - 1
    assert client.get(url, params={"at": grant["approved_at_utc"]}).json()["grants"] == [grant]
    # An ISO date is its first second (UTC); an offset is honoured.
    day = client.get(url, params={"at": grant["expires_at_utc"][:10]}).json()
    assert day["as_of_utc"] == grant["expires_at_utc"][:10] + "T00:00:00Z"
    offset = client.get(url, params={"at": "2026-01-01T01:30:00+01:30"}).json()
    assert offset["as_of_utc"] == "2026-01-01T00:00:00Z"
    assert client.get(url, params={"at": grant["expires_at"]}).json()["grants"] == []


@pytest.mark.parametrize(
    "at",
    [
        "2026-02-30",  # no such day
        "2026-01-31T17:00",  # a time without its offset: which zone?
        "2026-01-31T17:00:00+24:00",
        "yesterday",
        "-5",
        "1e9",
        "99999-01-01",
        "123456789012",  # more than 11 digits: a date says it better
    ],
)
def test_a_time_that_is_no_time_or_out_of_range_is_refused(
    client: TestClient, shared: dict[str, Any], at: str
) -> None:
    refused = client.get(f"/v1/datasets/{shared['source']}/grants", params={"at": at})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"


# --- what needs a token -----------------------------------------------------------------------


def test_purposes_operations_listings_and_the_audit_trail_need_a_token(
    client: TestClient, shared: dict[str, Any]
) -> None:
    source = shared["source"]
    for path in (
        "/v1/datasets",
        "/v1/catalog",
        "/v1/departments",
        "/v1/departments/21/nonces",
        "/v1/audit/events",
        "/v1/access-requests",
        f"/v1/access-requests/{shared['request']}",
        f"/v1/operations/{shared['batched_operation']}",
        f"/v1/datasets/{source}/access?department=22",
    ):
        refused = client.get(path)
        assert refused.status_code == 401, path
        assert refused.json()["code"] == "unauthenticated"
        assert client.get(path, headers=shared["a"]).status_code == 200, path  # the owner
    write = client.post(f"/v1/datasets/{source}/withdraw", json={})
    assert write.status_code == 401
    upload = client.post("/v1/verify", files={"file": ("beds.csv", b"1,2\n")})
    assert upload.status_code == 401 and "send JSON" in upload.json()["detail"]
    raw = client.post("/v1/verify", content=b"1,2\n", headers={"Content-Type": "text/csv"})
    assert raw.status_code == 401


@pytest.mark.parametrize(
    "authorization",
    ["Bearer plk_made_up", "Bearer ", "Basic dXNlcjpwYXNz", "plk_no_scheme", ""],
)
def test_a_bad_token_is_refused_never_read_as_no_token(
    client: TestClient, shared: dict[str, Any], authorization: str
) -> None:
    headers = {"Authorization": authorization}
    dataset = client.get(f"/v1/datasets/{shared['source']}", headers=headers)
    verdict = client.post("/v1/verify", json={"content_hash": shared["content"]}, headers=headers)
    assert (dataset.status_code, verdict.status_code) == (401, 401)


def test_a_revoked_token_is_refused_on_a_public_read(
    client: TestClient, governance: dict[str, str], shared: dict[str, Any]
) -> None:
    issued = client.post("/v1/auditors", json={}, headers=governance).json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get(f"/v1/datasets/{shared['source']}", headers=headers).status_code == 200
    client.post(f"/v1/tokens/{issued['token_id']}/revoke", headers=governance)
    assert client.get(f"/v1/datasets/{shared['source']}", headers=headers).status_code == 401


PUBLIC_READS = [
    ("POST", "/v1/verify", {"content_hash": "0x" + "ab" * 32}),
    ("POST", "/v1/verify/batch", {"content_hashes": ["0x" + "ab" * 32]}),
    ("GET", "/v1/datasets/0x" + "ab" * 32, None),
    ("GET", "/v1/datasets/0x" + "ab" * 32 + "/versions/1", None),
    ("GET", "/v1/datasets/0x" + "ab" * 32 + "/lineage", None),
    ("GET", "/v1/datasets/0x" + "ab" * 32 + "/provenance", None),
    ("GET", "/v1/datasets/0x" + "ab" * 32 + "/grants", None),
    ("GET", "/v1/departments/21", None),
    ("GET", "/v1/departments/21/encryption-key", None),
    ("GET", "/v1/departments/21/encryption-keys", None),
]


@pytest.fixture
def token_only(runtime: Runtime) -> Iterator[TestClient]:
    """The service with public reads off (``PROVLEDGER_PUBLIC_READS=token``)."""
    runtime.settings = runtime.settings.model_copy(update={"public_reads": "token"})
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@pytest.mark.parametrize(("method", "path", "body"), PUBLIC_READS)
def test_with_public_reads_off_every_read_needs_a_token(
    token_only: TestClient, method: str, path: str, body: Any
) -> None:
    refused = token_only.request(method, path, json=body)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "missing Authorization header: send 'Bearer <token>'"


def test_the_openapi_document_says_which_operations_need_no_token(
    client: TestClient, token_only: TestClient
) -> None:
    def security(document: dict[str, Any], method: str, path: str) -> Any:
        return document["paths"][path][method.lower()].get("security")

    public = client.get("/openapi.json").json()
    private = token_only.get("/openapi.json").json()
    documented = {
        ("POST", "/v1/verify"),
        ("POST", "/v1/verify/batch"),
        ("GET", "/v1/datasets/{dataset_id}"),
        ("GET", "/v1/datasets/{dataset_id}/versions/{number}"),
        ("GET", "/v1/datasets/{dataset_id}/lineage"),
        ("GET", "/v1/datasets/{dataset_id}/provenance"),
        ("GET", "/v1/datasets/{dataset_id}/grants"),
        ("GET", "/v1/departments/{department_id}"),
        ("GET", "/v1/departments/{department_id}/encryption-key"),
        ("GET", "/v1/departments/{department_id}/encryption-keys"),
    }
    for method, path in documented:
        assert security(public, method, path) == [{}, {"HTTPBearer": []}], path
        assert security(private, method, path) == [{"HTTPBearer": []}], path
    optional = {
        (method.upper(), path)
        for path, operations in public["paths"].items()
        for method, operation in operations.items()
        if {} in operation.get("security", [])
    }
    assert optional == documented | {("POST", "/rpc")}
