"""Governance rotates a department's signing key over HTTP; id and history stay, the outbox's
order decides which key signs what."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from ledger.chain.types import DepartmentStatus
from ledger.hashing import metadata_commitment
from ledger.relayer import Operation
from ledger.runtime import Runtime
from ledger.verifier import Verifier

CUSTODIAL = 40
OWN_KEY = 41


def _hex() -> str:
    return "0x" + os.urandom(32).hex()


def enrol(
    client: TestClient, governance: dict[str, str], department_id: int, **extra: Any
) -> dict[str, Any]:
    body = {"department_id": department_id, "name": f"Department {department_id}", **extra}
    response = client.post("/v1/departments", json=body, headers=governance)
    assert response.status_code == 202, response.text
    return dict(response.json())


def token(enrolled: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {enrolled['token']}"}


def rotate(client: TestClient, headers: dict[str, str], department_id: int, **body: Any) -> Any:
    return client.post(
        f"/v1/departments/{department_id}/rotate-key", json=body or None, headers=headers
    )


def register(client: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {"content_hash": _hex(), "metadata": {"title": "Rotated"}, **extra}
    response = client.post("/v1/datasets", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


def operation(client: TestClient, headers: dict[str, str], accepted: dict[str, Any]) -> Any:
    return client.get(f"/v1/operations/{accepted['operation_id']}", headers=headers).json()


def attribution(runtime: Runtime, accepted: dict[str, Any]) -> tuple[str, str]:
    """The key that signed a registration and the department's key at its block, as an
    auditor's verifier reads them from the chain."""
    content = bytes.fromhex(accepted["resource"]["content_hash"][2:])
    [registration] = Verifier.for_ledger(runtime.ledger).verify(content).registrations
    return registration.signer, registration.department_key


def signed_registration(
    client: TestClient,
    runtime: Runtime,
    headers: dict[str, str],
    department_id: int,
    key: LocalAccount,
) -> dict[str, Any]:
    """A dataset registration carrying the department's own EIP-712 signature by ``key``."""
    content, salt = _hex(), _hex()
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
    nonces = client.get(f"/v1/departments/{department_id}/nonces", headers=headers).json()
    nonce = nonces["nonces"]["DatasetRegistry"]["next_nonce"]
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
        department_id=department_id,
        nonce=nonce,
        deadline=deadline,
    )
    return {
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


@pytest.fixture
def custodial(
    client: TestClient, governance: dict[str, str], relay: Callable[[], None]
) -> dict[str, Any]:
    """An enrolled department whose key the service holds."""
    enrolled = enrol(client, governance, CUSTODIAL)
    relay()
    return enrolled


# --- custodial rotation ----------------------------------------------------------------------


def test_a_custodial_rotation_archives_the_old_key_and_the_new_key_signs_from_then_on(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
    custodial: dict[str, Any],
) -> None:
    old = custodial["address"]

    response = rotate(client, governance, CUSTODIAL)

    assert response.status_code == 202, response.text
    accepted = response.json()
    new = accepted["resource"]["address"]
    assert accepted["resource"] == {"department_id": CUSTODIAL, "address": new, "custodial": True}
    assert new != old and runtime.keystore.address(CUSTODIAL) == new
    [archived] = runtime.keystore.retired_paths(CUSTODIAL)
    assert stat.S_IMODE(archived.stat().st_mode) == 0o600
    old_key = Account.from_key(Account.decrypt(archived.read_text(), runtime.passphrase))
    assert old_key.address == old

    relay()
    assert operation(client, governance, accepted)["status"] == "confirmed"
    assert runtime.ledger.departments.department(CUSTODIAL).signer == new

    registered = register(client, token(custodial))
    relay()

    assert operation(client, token(custodial), registered)["status"] == "confirmed"
    assert attribution(runtime, registered) == (new, new)


def test_actions_queued_before_a_rotation_and_relayed_after_it_are_all_confirmed(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
    custodial: dict[str, Any],
) -> None:
    headers = token(custodial)
    old = custodial["address"]
    before = [register(client, headers) for _ in range(2)]
    version = client.post(
        f"/v1/datasets/{before[0]['resource']['dataset_id']}/versions",
        json={"content_hash": _hex()},
        headers=headers,
    )
    assert version.status_code == 202, version.text
    rotation = rotate(client, governance, CUSTODIAL).json()
    new = rotation["resource"]["address"]
    after = [register(client, headers) for _ in range(2)]

    relay()  # everything in one go, in queue order

    queued = [*before, version.json(), rotation, *after]
    assert [operation(client, governance, op)["status"] for op in queued] == ["confirmed"] * 6
    for accepted in before:
        assert attribution(runtime, accepted) == (old, old)
    for accepted in after:
        assert attribution(runtime, accepted) == (new, new)


def test_a_department_holding_its_own_key_gets_a_custodial_one_by_rotation(
    client: TestClient, governance: dict[str, str], runtime: Runtime, relay: Callable[[], None]
) -> None:
    enrolled = enrol(client, governance, OWN_KEY, signer_address=Account.create().address)
    relay()

    accepted = rotate(client, governance, OWN_KEY).json()
    registered = register(client, token(enrolled))  # the service can sign from now on
    relay()

    new = accepted["resource"]["address"]
    assert accepted["resource"]["custodial"] is True
    assert runtime.keystore.address(OWN_KEY) == new
    assert runtime.keystore.retired_paths(OWN_KEY) == []
    assert attribution(runtime, registered) == (new, new)


# --- self-custody rotation -------------------------------------------------------------------


def test_a_department_may_take_its_own_key_and_only_its_signatures_count_from_then_on(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
    custodial: dict[str, Any],
) -> None:
    headers = token(custodial)
    old_key = runtime.department_key(CUSTODIAL)
    assert old_key is not None
    own = Account.create()

    response = rotate(client, governance, CUSTODIAL, signer_address=own.address)

    assert response.status_code == 202, response.text
    assert response.json()["resource"] == {
        "department_id": CUSTODIAL,
        "address": own.address,
        "custodial": False,
    }
    assert not runtime.keystore.path(CUSTODIAL).exists()  # archived, not deleted
    assert len(runtime.keystore.retired_paths(CUSTODIAL)) == 1
    archived = runtime.keystore.unlock(CUSTODIAL, runtime.passphrase, address=old_key.address)
    assert archived.address == old_key.address
    unsigned = client.post(
        "/v1/datasets", json={"content_hash": _hex(), "metadata": {"title": "t"}}, headers=headers
    )
    assert unsigned.status_code == 403  # the service no longer holds the department's key
    # Queued behind the rotation, a signature by the old key could never execute: refused now.
    stale = client.post(
        "/v1/datasets",
        json=signed_registration(client, runtime, headers, CUSTODIAL, old_key),
        headers=headers,
    )
    assert stale.status_code == 422
    assert stale.json()["code"] == "invalid-signature"
    assert own.address in stale.json()["detail"]

    signed = client.post(
        "/v1/datasets",
        json=signed_registration(client, runtime, headers, CUSTODIAL, own),
        headers=headers,
    )
    assert signed.status_code == 202, signed.text
    relay()

    assert operation(client, headers, signed.json())["status"] == "confirmed"
    assert attribution(runtime, signed.json()) == (own.address, own.address)
    assert runtime.ledger.departments.department(CUSTODIAL).signer == own.address


def test_a_signature_by_a_key_rotated_away_before_it_executes_fails_with_the_contract_error(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
    actors: Any,
) -> None:
    old, new = Account.create(), Account.create()
    headers = token(enrol(client, governance, OWN_KEY, signer_address=old.address))
    relay()
    accepted = client.post(
        "/v1/datasets",
        json=signed_registration(client, runtime, headers, OWN_KEY, old),
        headers=headers,
    )
    assert accepted.status_code == 202, accepted.text
    # Governance rotates the key by other means (its own tools) before the service relays.
    runtime.ledger.departments.rotate_department_key(OWN_KEY, new.address, sender=actors.governance)

    relay()

    failed = operation(client, headers, accepted.json())
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "SignatureWrongSigner"
    assert old.address in failed["error"]["message"]


# --- refusals --------------------------------------------------------------------------------


def test_a_key_any_department_ever_used_or_is_about_to_use_is_a_conflict(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
    actors: Any,
    custodial: dict[str, Any],
) -> None:
    rotate(client, governance, CUSTODIAL)
    relay()
    rotated_away = custodial["address"]
    claimed = Account.create().address
    enrol(client, governance, OWN_KEY, signer_address=claimed)  # queued, not yet on chain
    current = runtime.keystore.address(CUSTODIAL)

    for address in (actors.dept_b.address, rotated_away, current, claimed):
        response = rotate(client, governance, CUSTODIAL, signer_address=address)

        assert response.status_code == 409, address
        problem = response.json()
        assert problem["code"] == "conflict"
        assert problem["error"] == "DepartmentSignerUnavailable"
        assert problem["arguments"] == {"signer": address}
    # Nothing was queued or archived by the refusals.
    assert runtime.keystore.address(CUSTODIAL) == current
    assert len(runtime.keystore.retired_paths(CUSTODIAL)) == 1
    with Session(runtime.engine) as session:
        rotations = session.exec(
            select(Operation).where(Operation.kind == "departments.rotate_key")
        ).all()
    assert len(rotations) == 1


def test_only_governance_may_rotate_and_only_an_enrolled_department(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    custodial: dict[str, Any],
) -> None:
    own = rotate(client, token(custodial), CUSTODIAL)
    assert own.status_code == 403 and own.json()["code"] == "forbidden"

    unknown = rotate(client, governance, 999)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not-found"
    assert runtime.keystore.retired_paths(999) == [] and not runtime.keystore.path(999).exists()

    for department_id in (0, 2**63):
        response = rotate(client, governance, department_id)
        assert response.status_code == 422 and response.json()["code"] == "invalid-request"
    for body in ({"signer_address": "0x12"}, {"address": "0x" + "12" * 20}):
        response = rotate(client, governance, CUSTODIAL, **body)
        assert response.status_code == 422 and response.json()["code"] == "invalid-request"
    assert runtime.keystore.retired_paths(CUSTODIAL) == []


def test_a_suspended_departments_key_may_be_rotated_and_it_stays_suspended(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    relay: Callable[[], None],
    custodial: dict[str, Any],
) -> None:
    suspended = client.post(
        f"/v1/departments/{CUSTODIAL}/suspend", json={"reason": "key leaked"}, headers=governance
    )
    relay()
    assert operation(client, governance, suspended.json())["status"] == "confirmed"

    accepted = rotate(client, governance, CUSTODIAL).json()
    relay()

    assert operation(client, governance, accepted)["status"] == "confirmed"
    record = runtime.ledger.departments.department(CUSTODIAL)
    assert record.status == DepartmentStatus.SUSPENDED
    assert record.signer == accepted["resource"]["address"]


def test_a_retried_rotation_with_the_same_idempotency_key_rotates_once(
    client: TestClient,
    governance: dict[str, str],
    runtime: Runtime,
    custodial: dict[str, Any],
) -> None:
    headers = {**governance, "Idempotency-Key": "rotate-40"}

    first = rotate(client, headers, CUSTODIAL)
    second = rotate(client, headers, CUSTODIAL)

    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(runtime.keystore.retired_paths(CUSTODIAL)) == 1
    own = rotate(client, headers, CUSTODIAL, signer_address=Account.create().address)
    assert own.status_code == 409 and own.json()["code"] == "idempotency-conflict"
