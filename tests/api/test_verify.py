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


def test_verification_needs_a_token(client: TestClient) -> None:
    assert client.post("/v1/verify", json={"content_hash": "0x" + "ab" * 32}).status_code == 401


def test_a_verdict_is_reused_until_the_chain_does_something_that_concerns_it(
    client: TestClient,
    registered: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    relay: Callable[[], None],
    governance: dict[str, str],
) -> None:
    from ledger.verifier import Verifier

    calls: list[str] = []
    verify = Verifier.verify

    def counting(self: Verifier, content_hash: Any) -> Any:
        calls.append(bytes(content_hash).hex())
        return verify(self, content_hash)

    monkeypatch.setattr(Verifier, "verify", counting)
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
