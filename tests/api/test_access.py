"""Access over HTTP: B asks, A answers, the chain says who has access."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.runtime import Runtime

DAY = 86_400


@pytest.fixture
def world(
    client: TestClient,
    enrol: Callable[[dict[int, str]], dict[str, dict[str, str]]],
    relay: Callable[[], None],
) -> dict[str, Any]:
    """Departments a (31), b (32), c (33) and a dataset of a."""
    headers = enrol({31: "a", 32: "b", 33: "c"})
    created = client.post(
        "/v1/datasets",
        json={"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": "census"}},
        headers=headers["a"],
    ).json()
    relay()
    return {"headers": headers, "dataset": created["resource"]["dataset_id"]}


def access_of(client: TestClient, world: dict[str, Any], department: int, who: str = "a") -> bool:
    response = client.get(
        f"/v1/datasets/{world['dataset']}/access",
        params={"department": department},
        headers=world["headers"][who],
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["has_access"])


def ask(client: TestClient, world: dict[str, Any], who: str = "b", days: int = 30) -> str:
    response = client.post(
        f"/v1/datasets/{world['dataset']}/access-requests",
        json={"purpose": "fraud analytics", "duration_seconds": days * DAY},
        headers=world["headers"][who],
    )
    assert response.status_code == 202, response.text
    return str(response.json()["resource"]["request_id"])


def test_request_approve_revoke_journey(
    client: TestClient, world: dict[str, Any], runtime: Runtime, relay: Callable[[], None]
) -> None:
    request_id = ask(client, world)
    relay()
    assert access_of(client, world, 32) is False

    expires = runtime.chain.block_time() + 7 * DAY
    approved = client.post(
        f"/v1/access-requests/{request_id}/approve",
        json={"expires_at": expires},
        headers=world["headers"]["a"],
    )
    assert approved.status_code == 202, approved.text
    relay()
    assert access_of(client, world, 32) is True
    assert access_of(client, world, 32, who="b") is True

    revoked = client.post(
        f"/v1/grants/{request_id}/revoke",
        json={"reason": "project ended"},
        headers=world["headers"]["a"],
    )
    assert revoked.status_code == 202
    relay()
    assert access_of(client, world, 32) is False


def test_only_the_owner_answers_and_only_the_requester_cancels(
    client: TestClient, world: dict[str, Any], relay: Callable[[], None]
) -> None:
    request_id = ask(client, world)
    relay()
    headers = world["headers"]

    by_requester = client.post(
        f"/v1/access-requests/{request_id}/approve",
        json={"expires_at": 2**40},
        headers=headers["b"],
    )
    by_stranger = client.post(
        f"/v1/access-requests/{request_id}/deny", json={}, headers=headers["c"]
    )
    cancel_by_owner = client.post(
        f"/v1/access-requests/{request_id}/cancel", json={}, headers=headers["a"]
    )

    assert by_requester.status_code == 403
    # c sees the request (it is on chain) but is no party to it.
    assert by_stranger.status_code == 403
    assert cancel_by_owner.status_code == 403
    assert (
        client.post(
            f"/v1/access-requests/{request_id}/cancel", json={}, headers=headers["b"]
        ).status_code
        == 202
    )


def test_any_department_may_ask_what_the_contract_answers_anyone(
    client: TestClient, world: dict[str, Any]
) -> None:
    # hasAccess is a public view of the contract: hiding its answer would protect nothing.
    response = client.get(
        f"/v1/datasets/{world['dataset']}/access",
        params={"department": 32},
        headers=world["headers"]["c"],
    )
    assert response.status_code == 200
    assert response.json()["has_access"] is False


def test_answering_a_request_twice_is_a_conflict(
    client: TestClient, world: dict[str, Any], relay: Callable[[], None]
) -> None:
    request_id = ask(client, world)
    relay()
    assert (
        client.post(
            f"/v1/access-requests/{request_id}/deny",
            json={"reason": "no"},
            headers=world["headers"]["a"],
        ).status_code
        == 202
    )
    relay()
    again = client.post(
        f"/v1/access-requests/{request_id}/deny", json={}, headers=world["headers"]["a"]
    )
    assert again.status_code == 409
    assert "is denied" in again.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"purpose": "", "duration_seconds": DAY},
        {"purpose": "x", "duration_seconds": 0},
        {"purpose": "x", "duration_seconds": 3651 * DAY},
        {"purpose": "x", "duration_seconds": DAY, "urgent": True},
    ],
)
def test_malformed_requests_are_refused(
    client: TestClient, world: dict[str, Any], body: dict[str, Any]
) -> None:
    response = client.post(
        f"/v1/datasets/{world['dataset']}/access-requests", json=body, headers=world["headers"]["b"]
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_asking_for_ones_own_data_or_unknown_data_is_refused(
    client: TestClient, world: dict[str, Any]
) -> None:
    own = client.post(
        f"/v1/datasets/{world['dataset']}/access-requests",
        json={"purpose": "x", "duration_seconds": DAY},
        headers=world["headers"]["a"],
    )
    unknown = client.post(
        f"/v1/datasets/0x{'11' * 32}/access-requests",
        json={"purpose": "x", "duration_seconds": DAY},
        headers=world["headers"]["b"],
    )
    assert own.status_code == 422
    assert unknown.status_code == 404


def test_an_expiry_beyond_the_requested_duration_is_refused_before_anything_is_queued(
    client: TestClient, world: dict[str, Any], runtime: Runtime, relay: Callable[[], None]
) -> None:
    request_id = ask(client, world, days=7)
    relay()
    too_late = runtime.chain.block_time() + 8 * DAY
    response = client.post(
        f"/v1/access-requests/{request_id}/approve",
        json={"expires_at": too_late},
        headers=world["headers"]["a"],
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid-input"
    assert "requested duration" in response.json()["detail"]
    listed = client.get(f"/v1/access-requests/{request_id}", headers=world["headers"]["a"])
    assert listed.json()["status"] == "pending"


def test_owners_see_incoming_requests_with_their_purpose_and_requesters_their_own(
    client: TestClient, world: dict[str, Any], runtime: Runtime, relay: Callable[[], None]
) -> None:
    headers = world["headers"]
    first, second = ask(client, world), ask(client, world, who="c")
    relay()
    client.post(
        f"/v1/access-requests/{second}/deny",
        json={"reason": "no legal basis"},
        headers=headers["a"],
    )
    relay()
    runtime.indexer.sync()

    def ids(who: str, **params: Any) -> list[str]:
        response = client.get("/v1/access-requests", params=params, headers=headers[who])
        assert response.status_code == 200, response.text
        return [r["request_id"] for r in response.json()["items"]]

    assert ids("a", role="incoming") == [second, first]  # newest first
    assert ids("a", role="outgoing") == []
    assert ids("b") == [first] and ids("c") == [second]
    assert ids("a", status="denied") == [second]
    incoming = client.get("/v1/access-requests", headers=headers["a"]).json()["items"]
    assert incoming[1]["purpose"] == "fraud analytics" and incoming[1]["requester"] == 32
    assert incoming[0]["deny_reason"] == "no legal basis"

    page = client.get("/v1/access-requests", params={"limit": 1}, headers=headers["a"]).json()
    rest = client.get(
        "/v1/access-requests", params={"cursor": page["next_cursor"]}, headers=headers["a"]
    ).json()
    assert [r["request_id"] for r in page["items"] + rest["items"]] == [second, first]
    assert rest["next_cursor"] is None

    one = client.get(f"/v1/access-requests/{first}", headers=headers["b"]).json()
    assert one["status"] == "pending" and one["owner"] == 31 and one["indexed"] is True
    # A third department reads the request's chain facts, not what the parties wrote.
    stranger = client.get(f"/v1/access-requests/{first}", headers=headers["c"]).json()
    assert stranger["status"] == "pending" and stranger["requester"] == 32
    assert stranger["purpose"] is None and stranger["texts_visible"] is False
    assert stranger["purpose_hash"] == one["purpose_hash"]
    assert client.get(f"/v1/access-requests/0x{'00' * 32}", headers=headers["a"]).status_code == 404
    assert (
        client.get(
            "/v1/access-requests", params={"role": "sideways"}, headers=headers["a"]
        ).status_code
        == 422
    )
