"""Departments register datasets and versions over HTTP, each only its own."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from ledger.runtime import Runtime


def _hex(n: int = 32) -> str:
    return "0x" + os.urandom(n).hex()


def register(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"content_hash": _hex(), "metadata": {"title": "Hospital admissions"}, **overrides}
    response = client.post("/v1/datasets", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


def operation(
    client: TestClient, headers: dict[str, str], accepted: dict[str, Any]
) -> dict[str, Any]:
    return dict(client.get(f"/v1/operations/{accepted['operation_id']}", headers=headers).json())


def test_a_department_registers_a_dataset_and_the_chain_records_it(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    content = _hex()
    accepted = register(client, departments["a"], content_hash=content, classification="restricted")
    dataset_id = accepted["resource"]["dataset_id"]

    relay()

    op = operation(client, departments["a"], accepted)
    assert op["status"] == "confirmed", op
    assert op["result"]["version"] == 1
    # Final once its block is at or below the node's finalized block: at once on the in-process
    # chain, 64 blocks later on anvil.
    finalized = runtime.chain.w3.eth.get_block("finalized")["number"]
    assert op["final"] is (op["chain"]["block_number"] <= finalized)
    assert op["reorged"] == 0 and op["chain_available"] is True
    record = runtime.ledger.datasets.dataset(bytes.fromhex(dataset_id[2:]))
    assert record.owner == 21 and record.version_count == 1
    assert record.classification.name == "RESTRICTED"
    [event] = runtime.ledger.datasets.registrations_of(bytes.fromhex(content[2:]))
    assert "0x" + event.args["datasetId"].hex() == dataset_id


def test_versions_with_lineage_are_appended_in_order(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    source = register(client, departments["b"])["resource"]["dataset_id"]
    mine = register(client, departments["a"])["resource"]["dataset_id"]
    relay()

    response = client.post(
        f"/v1/datasets/{mine}/versions",
        json={"content_hash": _hex(), "parents": [{"dataset_id": source, "version": 1}]},
        headers=departments["a"],
    )
    assert response.status_code == 202, response.text
    relay()

    assert operation(client, departments["a"], response.json())["result"]["version"] == 2
    assert runtime.ledger.datasets.dataset(bytes.fromhex(mine[2:])).version_count == 2


def test_a_version_may_be_queued_behind_its_datasets_creation(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    dataset_id = register(client, departments["a"])["resource"]["dataset_id"]
    response = client.post(
        f"/v1/datasets/{dataset_id}/versions",
        json={"content_hash": _hex()},
        headers=departments["a"],
    )
    assert response.status_code == 202
    relay()
    assert runtime.ledger.datasets.dataset(bytes.fromhex(dataset_id[2:])).version_count == 2


def test_a_department_cannot_touch_another_departments_dataset(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    dataset_id = register(client, departments["a"])["resource"]["dataset_id"]
    relay()

    version = client.post(
        f"/v1/datasets/{dataset_id}/versions",
        json={"content_hash": _hex()},
        headers=departments["b"],
    )
    withdraw = client.post(f"/v1/datasets/{dataset_id}/withdraw", json={}, headers=departments["b"])

    assert version.status_code == withdraw.status_code == 403
    assert version.json()["code"] == "forbidden"
    assert runtime.ledger.datasets.dataset(bytes.fromhex(dataset_id[2:])).version_count == 1


def test_governance_and_auditors_cannot_register_data(
    client: TestClient, governance: dict[str, str]
) -> None:
    auditor = client.post("/v1/auditors", json={"label": "NAO"}, headers=governance).json()
    for headers in (governance, {"Authorization": f"Bearer {auditor['token']}"}):
        response = client.post(
            "/v1/datasets",
            json={"content_hash": _hex(), "metadata": {"title": "x"}},
            headers=headers,
        )
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_hash": "0x1234", "metadata": {"title": "t"}}, "content_hash"),
        ({"content_hash": "ab" * 32, "metadata": {"title": "t"}}, "content_hash"),
        ({"content_hash": "0x" + "ab" * 33, "metadata": {"title": "t"}}, "content_hash"),
        ({"content_hash": "0x" + "ab" * 32}, "metadata"),
        ({"content_hash": "0x" + "ab" * 32, "metadata": {"title": ""}}, "title"),
        ({"content_hash": "0x" + "ab" * 32, "metadata": {"title": "t"}, "extra": 1}, "extra"),
        ({"content_hash": "0x" + "ab" * 32, "metadata": {"title": "t", "owner": "me"}}, "owner"),
        (
            {
                "content_hash": "0x" + "ab" * 32,
                "metadata": {"title": "t"},
                "classification": "secret",
            },
            "classification",
        ),
        (
            {
                "content_hash": "0x" + "ab" * 32,
                "metadata": {"title": "t"},
                "parents": [{"dataset_id": "0x1", "version": 1}],
            },
            "dataset_id",
        ),
        (
            {"content_hash": "0x" + "ab" * 32, "metadata": {"title": "t", "tags": ["x"] * 33}},
            "tags",
        ),
    ],
)
def test_malformed_registrations_are_refused_and_change_nothing(
    client: TestClient,
    departments: dict[str, dict[str, str]],
    runtime: Runtime,
    body: dict[str, Any],
    field: str,
) -> None:
    from sqlmodel import Session, select

    from ledger.relayer import Operation

    with Session(runtime.engine) as session:
        before = len(session.exec(select(Operation)).all())
    response = client.post("/v1/datasets", json=body, headers=departments["a"])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text
    with Session(runtime.engine) as session:
        assert len(session.exec(select(Operation)).all()) == before


def test_a_zero_hash_or_a_missing_parent_is_refused(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    zero = client.post(
        "/v1/datasets",
        json={"content_hash": "0x" + "00" * 32, "metadata": {"title": "t"}},
        headers=departments["a"],
    )
    assert zero.status_code == 422
    missing = client.post(
        "/v1/datasets",
        json={
            "content_hash": _hex(),
            "metadata": {"title": "t"},
            "parents": [{"dataset_id": _hex(), "version": 1}],
        },
        headers=departments["a"],
    )
    assert missing.status_code == 404
    assert "parent version 1" in missing.json()["detail"]


def test_a_department_holding_its_own_key_signs_and_the_service_only_relays(
    client: TestClient, governance: dict[str, str], runtime: Runtime, relay: Callable[[], None]
) -> None:
    key = Account.create()
    enrolled = client.post(
        "/v1/departments",
        json={"department_id": 23, "name": "own key", "signer_address": key.address},
        headers=governance,
    ).json()
    headers = {"Authorization": f"Bearer {enrolled['token']}"}
    relay()
    unsigned = client.post(
        "/v1/datasets", json={"content_hash": _hex(), "metadata": {"title": "t"}}, headers=headers
    )
    assert unsigned.status_code == 403  # the service has no key to sign with

    content, salt = _hex(), _hex()
    from ledger.hashing import metadata_commitment

    metadata_hash = bytes(
        metadata_commitment(
            {
                "classification": "public",
                "title": "t",
                "description": "",
                "licence": "",
                "source_system": "",
                "tags": [],
            }
        )
    )
    nonce = client.get("/v1/departments/23/nonces", headers=headers).json()["nonces"][
        "DatasetRegistry"
    ]["next_nonce"]
    deadline = runtime.chain.block_time() + 600
    action = runtime.ledger.datasets.typed_action(
        "CreateDataset",
        {
            "salt": bytes.fromhex(salt[2:]),
            "classification": 0,
            "metadataHash": metadata_hash,
            "contentHash": bytes.fromhex(content[2:]),
            "versionMetadataHash": metadata_hash,
            "parents": [],
        },
        department_id=23,
        nonce=nonce,
        deadline=deadline,
    )
    body = {
        "content_hash": content,
        "classification": "public",
        "metadata": {"title": "t"},
        "salt": salt,
        "signature": {
            "nonce": nonce,
            "deadline": deadline,
            "signature": "0x" + action.sign(key).hex(),
        },
    }
    forged = dict(
        body,
        signature={**body["signature"], "signature": "0x" + action.sign(Account.create()).hex()},
    )

    assert client.post("/v1/datasets", json=forged, headers=headers).status_code == 422
    accepted = client.post("/v1/datasets", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    relay()
    assert operation(client, headers, accepted.json())["status"] == "confirmed"


def test_operations_of_another_department_are_invisible(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    accepted = register(client, departments["a"])
    response = client.get(f"/v1/operations/{accepted['operation_id']}", headers=departments["b"])
    assert response.status_code == 404
    missing = "op_" + "0" * 32
    assert client.get(f"/v1/operations/{missing}", headers=departments["a"]).status_code == 404


def test_a_suspended_department_is_refused_at_once_not_after_a_202(
    client: TestClient, governance: dict[str, str], relay: Callable[[], None]
) -> None:
    enrolled = client.post(
        "/v1/departments", json={"department_id": 77, "name": "to suspend"}, headers=governance
    ).json()
    department = {"Authorization": f"Bearer {enrolled['token']}"}
    relay()
    body = {"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": "t"}}
    # Queued but not yet mined: the registration would run after the suspension, so it is refused.
    client.post("/v1/departments/77/suspend", json={"reason": "audit"}, headers=governance)
    refused = client.post("/v1/datasets", json=body, headers=department)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "DepartmentInactive"
    relay()
    assert client.post("/v1/datasets", json=body, headers=department).status_code == 403
    # A reactivation queued ahead is enough: the registration will run after it.
    client.post("/v1/departments/77/reactivate", json={}, headers=governance)
    accepted = client.post("/v1/datasets", json=body, headers=department)
    assert accepted.status_code == 202, accepted.text
    relay()
    operation = client.get(f"/v1/operations/{accepted.json()['operation_id']}", headers=department)
    assert operation.json()["status"] == "confirmed"
