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
    client: TestClient, governance: dict[str, str], relay: Callable[[], None]
) -> dict[str, Any]:
    """Departments a (31), b (32), c (33) and a dataset of a."""
    headers = {}
    for department_id, name in ((31, "a"), (32, "b"), (33, "c")):
        response = client.post(
            "/v1/departments",
            json={"department_id": department_id, "name": name},
            headers=governance,
        )
        headers[name] = {"Authorization": f"Bearer {response.json()['token']}"}
    relay()
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
    assert by_stranger.status_code == 404  # c cannot even see the request
    assert cancel_by_owner.status_code == 403
    assert (
        client.post(
            f"/v1/access-requests/{request_id}/cancel", json={}, headers=headers["b"]
        ).status_code
        == 202
    )


def test_a_department_cannot_ask_about_others_access_to_others_data(
    client: TestClient, world: dict[str, Any]
) -> None:
    response = client.get(
        f"/v1/datasets/{world['dataset']}/access",
        params={"department": 32},
        headers=world["headers"]["c"],
    )
    assert response.status_code == 403


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
