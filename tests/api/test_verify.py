"""Auditors verify files and hashes over HTTP; the answer is the chain's."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def registered(
    client: TestClient, governance: dict[str, str], relay: Callable[[], None]
) -> dict[str, Any]:
    enrolled = client.post(
        "/v1/departments", json={"department_id": 41, "name": "ONS"}, headers=governance
    ).json()
    department = {"Authorization": f"Bearer {enrolled['token']}"}
    relay()
    data = os.urandom(300_000)
    accepted = client.post(
        "/v1/datasets",
        files={"file": ("census.csv", data, "text/csv")},
        data={"metadata": '{"title": "Census 2031"}', "classification": "public"},
        headers=department,
    )
    assert accepted.status_code == 202, accepted.text
    relay()
    auditor = client.post("/v1/auditors", json={"label": "NAO"}, headers=governance).json()
    return {
        "data": data,
        "dataset_id": accepted.json()["resource"]["dataset_id"],
        "auditor": {"Authorization": f"Bearer {auditor['token']}"},
        "address": enrolled["address"],
    }


def test_an_auditor_verifies_an_uploaded_file(
    client: TestClient, registered: dict[str, Any]
) -> None:
    response = client.post(
        "/v1/verify",
        files={"file": ("census.csv", registered["data"])},
        headers=registered["auditor"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["matched"] and body["authentic"]
    assert body["size"] == len(registered["data"])
    [registration] = body["registrations"]
    assert registration["dataset_id"] == registered["dataset_id"]
    assert registration["department_id"] == 41
    assert registration["signer"] == registration["department_key"] == registered["address"]
    assert registration["tx_hash"].startswith("0x") and registration["block_hash"].startswith("0x")


def test_a_modified_copy_does_not_match(client: TestClient, registered: dict[str, Any]) -> None:
    modified = registered["data"][:-1] + bytes([registered["data"][-1] ^ 1])
    response = client.post(
        "/v1/verify",
        content=modified,
        headers={**registered["auditor"], "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200
    assert response.json()["matched"] is False


def test_verifying_by_hash_gives_the_same_answer(
    client: TestClient, registered: dict[str, Any]
) -> None:
    digest = "0x" + hashlib.sha256(registered["data"]).hexdigest()
    response = client.post(
        "/v1/verify", json={"content_hash": digest}, headers=registered["auditor"]
    )
    assert response.json()["content_hash"] == digest and response.json()["authentic"]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"content_hash": "0x12"}}, 422),
        ({"json": {"content_hash": "0x" + "ab" * 32, "more": 1}}, 422),
        ({"content": b"x", "headers": {"Content-Type": "text/plain"}}, 422),
        ({"files": {"other": ("a", b"x")}}, 422),
    ],
)
def test_malformed_verification_requests_are_problems(
    client: TestClient, registered: dict[str, Any], kwargs: dict[str, Any], status: int
) -> None:
    headers = {**registered["auditor"], **kwargs.pop("headers", {})}
    response = client.post("/v1/verify", headers=headers, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_verifying_a_file_needs_a_token_a_hash_does_not_where_reads_are_public(
    client: TestClient, registered: dict[str, Any]
) -> None:
    # Reads are public by default on loopback (tests/api/test_public_reads.py: when they are not).
    digest = "0x" + hashlib.sha256(registered["data"]).hexdigest()
    assert client.post("/v1/verify", json={"content_hash": digest}).json()["matched"]
    upload = client.post("/v1/verify", files={"file": ("census.csv", registered["data"])})
    assert upload.status_code == 401


def test_a_verdict_is_reused_until_the_chain_does_something_that_concerns_it(
    client: TestClient,
    registered: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    relay: Callable[[], None],
    governance: dict[str, str],
) -> None:
    from ledger.audit import BulkVerifier

    calls: list[str] = []
    verify_many = BulkVerifier.verify_many

    def counting(self: BulkVerifier, digests: Any, *args: Any, **kwargs: Any) -> Any:
        calls.extend(bytes(d).hex() for d in digests)
        return verify_many(self, digests, *args, **kwargs)

    monkeypatch.setattr(BulkVerifier, "verify_many", counting)
    digest = "0x" + hashlib.sha256(registered["data"]).hexdigest()
    ask = {"json": {"content_hash": digest}, "headers": registered["auditor"]}
    first, again = client.post("/v1/verify", **ask).json(), client.post("/v1/verify", **ask).json()
    assert first == again and first["matched"] and len(calls) == 1

    # New blocks that concern another department: the verdict holds at the new head as made.
    client.post("/v1/departments", json={"department_id": 42, "name": "X"}, headers=governance)
    relay()
    later = client.post("/v1/verify", **ask).json()
    assert len(calls) == 1 and later["verified_at_block"] > first["verified_at_block"]

    # Its department suspended: made afresh.
    suspended = client.post(
        "/v1/departments/41/suspend", json={"reason": "audit"}, headers=governance
    )
    assert suspended.status_code == 202, suspended.text
    relay()
    client.post("/v1/verify", **ask)
    assert len(calls) == 2


def test_a_catalogue_is_audited_in_one_request_each_hash_as_verify_answers_it(
    client: TestClient,
    registered: dict[str, Any],
    departments: dict[str, dict[str, str]],
    runtime: Any,
    relay: Callable[[], None],
) -> None:
    batched = ["0x" + os.urandom(32).hex() for _ in range(3)]
    records = [
        {"content_hash": h, "metadata": {"title": f"file {i}"}} for i, h in enumerate(batched)
    ]
    accepted = client.post(
        "/v1/datasets/batch", json={"records": records}, headers=departments["a"]
    )
    assert accepted.status_code == 202, accepted.text
    gone = accepted.json()["records"][2]["dataset_id"]
    withdrawn = client.post(
        f"/v1/datasets/{gone}/withdraw", json={"reason": "superseded"}, headers=departments["a"]
    )
    assert withdrawn.status_code == 202, withdrawn.text
    runtime.batcher.tick(force=True)
    relay()
    runtime.indexer.sync()
    on_chain = "0x" + hashlib.sha256(registered["data"]).hexdigest()
    never = "0x" + os.urandom(32).hex()
    asked = [on_chain, batched[0], never, batched[1], batched[2], on_chain]

    response = client.post(
        "/v1/verify/batch", json={"content_hashes": asked}, headers=registered["auditor"]
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["content_hash"] for r in body["results"]] == asked
    assert [r["status"] for r in body["results"]] == [
        "matched", "matched", "not-registered", "matched", "withdrawn", "matched",
    ]  # fmt: skip
    assert body["counts"] == {"matched": 4, "not-registered": 1, "withdrawn": 1}
    for summary in body["results"]:
        one = client.post(
            "/v1/verify",
            json={"content_hash": summary["content_hash"]},
            headers=registered["auditor"],
        ).json()
        assert summary["authentic"] == one["authentic"]
        assert [(r["dataset_id"], r["tx_hash"], r["signer"]) for r in summary["registrations"]] == [
            (r["dataset_id"], r["tx_hash"], r["signer"]) for r in one["registrations"]
        ]
        assert body["verified_at_block"] == one["verified_at_block"]
    assert body["results"][1]["registrations"][0]["anchor"]["leaf_index"] == 0
    assert "typed_data" not in body["results"][0]["registrations"][0]

    full = client.post(
        "/v1/verify/batch",
        json={"content_hashes": [batched[1]], "detail": "full"},
        headers=registered["auditor"],
    ).json()
    [verdict] = full["results"]
    assert (
        verdict["registrations"][0]["anchor"]["proof"] and verdict["registrations"][0]["typed_data"]
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"content_hashes": []}, "content_hashes"),
        ({"content_hashes": ["0x" + "ab" * 32] * 10_001}, "content_hashes"),
        ({"content_hashes": ["0x12"]}, "content_hashes.0"),
        ({"content_hashes": ["0x" + "ab" * 32], "detail": "everything"}, "detail"),
        ({"content_hash": "0x" + "ab" * 32}, "content_hash: Extra inputs"),
    ],
)
def test_a_malformed_catalogue_is_refused_naming_the_field(
    client: TestClient, registered: dict[str, Any], body: dict[str, Any], problem: str
) -> None:
    response = client.post("/v1/verify/batch", json=body, headers=registered["auditor"])

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert problem in response.json()["detail"]
