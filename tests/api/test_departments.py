"""Governance enrols departments over HTTP; nobody else can."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.models import IdempotencyRecord
from ledger.chain.types import DepartmentStatus
from ledger.index.models import IndexDepartment
from ledger.runtime import Runtime


def enrol(
    client: TestClient, governance: dict[str, str], department_id: int, name: str
) -> dict[str, Any]:
    response = client.post(
        "/v1/departments", json={"department_id": department_id, "name": name}, headers=governance
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def test_governance_enrols_a_department_with_a_custodial_key_and_a_token(
    client: TestClient, governance: dict[str, str], runtime: Runtime, relay: Callable[[], None]
) -> None:
    body = enrol(client, governance, 10, "Department for Education")

    assert body["custodial"] is True
    assert body["token"].startswith("plk_")
    assert runtime.keystore.address(10) == body["address"]
    operation = client.get(f"/v1/operations/{body['operation_id']}", headers=governance).json()
    assert operation["status"] == "pending"

    relay()

    operation = client.get(f"/v1/operations/{body['operation_id']}", headers=governance).json()
    assert operation["status"] == "confirmed"
    assert operation["chain"]["tx_hash"].startswith("0x")
    assert operation["chain"]["chain_id"] == runtime.chain.chain_id
    assert operation["confirmations"] >= 1
    record = runtime.ledger.departments.department(10)
    assert record.status == DepartmentStatus.ACTIVE and record.signer == body["address"]


def test_a_department_may_keep_its_own_key(
    client: TestClient, governance: dict[str, str], runtime: Runtime, relay: Callable[[], None]
) -> None:
    own = "0x" + "12" * 20
    response = client.post(
        "/v1/departments",
        json={"department_id": 11, "name": "HMRC", "signer_address": own},
        headers=governance,
    )
    assert response.status_code == 202
    assert response.json()["custodial"] is False
    relay()
    assert runtime.ledger.departments.department(11).signer.lower() == own


def test_only_governance_may_enrol(client: TestClient, governance: dict[str, str]) -> None:
    department = enrol(client, governance, 12, "Met Office")
    token = {"Authorization": f"Bearer {department['token']}"}

    response = client.post(
        "/v1/departments", json={"department_id": 13, "name": "X"}, headers=token
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "forbidden"


def test_requests_without_a_valid_token_are_refused(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = client.post(
            "/v1/departments", json={"department_id": 14, "name": "X"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["type"] == "urn:provledger:problem:unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_an_id_that_is_enrolled_or_being_enrolled_is_a_conflict(
    client: TestClient, governance: dict[str, str]
) -> None:
    enrol(client, governance, 15, "Ordnance Survey")
    again = client.post(
        "/v1/departments", json={"department_id": 15, "name": "Other"}, headers=governance
    )
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    on_chain = client.post(
        "/v1/departments", json={"department_id": 1, "name": "Other"}, headers=governance
    )
    assert on_chain.status_code == 409


def test_malformed_enrolments_are_refused_with_the_field_named(
    client: TestClient, governance: dict[str, str]
) -> None:
    cases = [
        ({"department_id": 0, "name": "X"}, "department_id"),
        ({"department_id": 2**63, "name": "X"}, "department_id"),
        ({"department_id": 2**64, "name": "X"}, "department_id"),
        ({"department_id": 16, "name": ""}, "name"),
        ({"department_id": 16, "name": "é" * 65}, "name"),
        ({"department_id": 16, "name": "X", "colour": "red"}, "colour"),
        ({"department_id": 16, "name": "X", "signer_address": "0x12"}, "signer_address"),
        ({"name": "X"}, "department_id"),
    ]
    for body, field in cases:
        response = client.post("/v1/departments", json=body, headers=governance)
        assert response.status_code == 422, body
        problem = response.json()
        assert problem["code"] == "invalid-request"
        assert field in problem["detail"]
    assert client.get("/v1/departments/16/nonces", headers=governance).status_code == 200


def test_the_largest_department_id_is_enrolled_and_indexed_like_any_other(
    client: TestClient, governance: dict[str, str], runtime: Runtime, relay: Callable[[], None]
) -> None:
    largest = 2**53 - 1  # the largest a JSON reader (JavaScript included) gets exactly

    body = enrol(client, governance, largest, "Department of Edge Cases")
    relay()

    runtime.indexer.sync()

    operation = client.get(f"/v1/operations/{body['operation_id']}", headers=governance).json()
    assert operation["status"] == "confirmed"
    assert runtime.ledger.departments.department(largest).signer == body["address"]
    with Session(runtime.engine) as session:
        indexed = session.get(IndexDepartment, largest)
    assert indexed is not None and indexed.department_id == largest
    nonces = client.get(f"/v1/departments/{largest}/nonces", headers=governance)
    assert nonces.status_code == 200 and nonces.json()["department_id"] == largest
    too_large = client.get(f"/v1/departments/{2**53}/nonces", headers=governance)
    assert too_large.status_code == 422 and too_large.json()["code"] == "invalid-request"


def test_a_revoked_token_stops_working(client: TestClient, governance: dict[str, str]) -> None:
    department = enrol(client, governance, 17, "Land Registry")
    token = {"Authorization": f"Bearer {department['token']}"}
    assert client.get("/v1/departments/17/nonces", headers=token).status_code == 200

    revoked = client.post(f"/v1/tokens/{department['token_id']}/revoke", headers=governance)

    assert revoked.status_code == 200
    assert client.get("/v1/departments/17/nonces", headers=token).status_code == 401


def test_a_retried_enrolment_with_the_same_idempotency_key_returns_the_first_outcome(
    client: TestClient, governance: dict[str, str]
) -> None:
    headers = {**governance, "Idempotency-Key": "enrol-18"}
    body = {"department_id": 18, "name": "Companies House"}
    first = client.post("/v1/departments", json=body, headers=headers)
    second = client.post("/v1/departments", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.headers["idempotent-replayed"] == "true"
    # The same enrolment and operation; the token is re-issued (secrets are never stored).
    same = ("operation_id", "address", "department_id")
    assert {k: first.json()[k] for k in same} == {k: second.json()[k] for k in same}

    different = client.post("/v1/departments", json={**body, "name": "Other"}, headers=headers)
    assert different.status_code == 409
    assert different.json()["code"] == "idempotency-conflict"


def _live_token(client: TestClient, token: str) -> bool:
    response = client.get("/v1/datasets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def test_a_replayed_token_issue_leaves_exactly_one_live_token_and_stores_no_secret(
    client: TestClient, governance: dict[str, str], runtime: Runtime
) -> None:
    enrolled = enrol(client, governance, 19, "Met Office")
    for path in ("/v1/departments/19/tokens", "/v1/auditors"):
        headers = {**governance, "Idempotency-Key": f"issue {path}"}
        first = client.post(path, json={"label": "laptop"}, headers=headers)
        again = client.post(path, json={"label": "laptop"}, headers=headers)
        assert first.status_code == again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert first.json()["token_id"] != again.json()["token_id"]
        assert not _live_token(client, first.json()["token"])  # the lost answer's token
        assert _live_token(client, again.json()["token"])
        third = client.post(path, json={"label": "laptop"}, headers=headers)
        assert _live_token(client, third.json()["token"])
        assert not _live_token(client, again.json()["token"])

        # Once governance revokes it, a replay cannot bring it back.
        client.post(f"/v1/tokens/{third.json()['token_id']}/revoke", headers=governance)
        refused = client.post(path, json={"label": "laptop"}, headers=headers)
        assert refused.status_code == 409 and refused.json()["code"] == "conflict"
        assert "revoked" in refused.json()["detail"]

    with Session(runtime.engine) as session:
        stored = session.exec(select(IdempotencyRecord)).all()
    assert stored and not any("plk_" in record.body for record in stored)
    assert _live_token(client, enrolled["token"])


def test_any_token_lists_departments_and_reads_one_with_its_key_history(
    client: TestClient, governance: dict[str, str], runtime: Runtime, relay: Callable[[], None]
) -> None:
    first = enrol(client, governance, 21, "Home Office")
    enrol(client, governance, 22, "Cabinet Office")
    relay()
    client.post("/v1/departments/21/rotate-key", json={}, headers=governance)
    relay()
    runtime.indexer.sync()
    as_22 = {"Authorization": f"Bearer {enrol(client, governance, 23, 'Treasury')['token']}"}

    listed, cursor = [], None
    for _ in range(10):
        page = client.get(
            "/v1/departments", params={"limit": 2, "cursor": cursor or ""}, headers=as_22
        ).json()
        listed += [d["department_id"] for d in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert listed == sorted(listed) and len(set(listed)) == len(listed)
    assert {21, 22} <= set(listed) and 23 not in listed  # 23 is not mined yet
    one = client.get("/v1/departments/21", headers=as_22).json()
    assert one["name"] == "Home Office" and one["status"] == "active"
    assert one["keys"][0]["signer"] == first["address"]
    assert len(one["keys"]) == 2 and one["keys"][1]["signer"] == one["signer"]
    assert one["keys"][0]["valid_until_block"] is not None
    assert client.get("/v1/departments/99", headers=as_22).status_code == 404
    assert (
        client.get("/v1/departments", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
