"""Departments' encryption keys over HTTP: publish (custodial, or the department's own key with
its EIP-712 signature), the key in force, the history, and every refusal by its code."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from fastapi.testclient import TestClient
from sqlalchemy import delete

from ledger.chain.types import Kem
from ledger.hashing import Digest
from ledger.index import projections
from ledger.index.models import ENCRYPTION_KEYS
from ledger.runtime import Runtime
from ledger.sealing import EncryptionKeyPair, EncryptionPublicKey, Suite
from tests.api.conftest import Enrol, Headers

A = 21


def publish(client: TestClient, headers: Headers, department_id: int = A, **body: Any) -> Any:
    return client.post(
        f"/v1/departments/{department_id}/encryption-keys", json=body, headers=headers
    )


def settled(
    client: TestClient, runtime: Runtime, relay: Callable[[], None], headers: Headers, answer: Any
) -> dict[str, Any]:
    relay()
    runtime.indexer.sync()
    operation: dict[str, Any] = client.get(
        f"/v1/operations/{answer['operation_id']}", headers=headers
    ).json()
    assert operation["status"] == "confirmed", operation
    return operation


def test_a_custodial_key_is_published_and_read_back_as_the_keystore_holds_it(
    client: TestClient, departments: dict[str, Headers], runtime: Runtime, relay: Callable[[], None]
) -> None:
    accepted = publish(client, departments["a"])

    assert accepted.status_code == 202, accepted.text
    resource = accepted.json()["resource"]
    held = runtime.encryption_key(A)
    assert held is not None
    assert resource == {
        "department_id": A,
        "kem": "mlkem768-x25519",
        "kem_id": 0x647A,
        "fingerprint": held.public_key.fingerprint().hex(),
        "public_key": "0x" + held.public_key.encode().hex(),
        "custodial": True,
    }
    operation = settled(client, runtime, relay, departments["a"], accepted.json())
    assert operation["result"]["serial"] == 1
    assert operation["chain"]["contract"] == runtime.ledger.deployment.key_directory

    # Anyone reads a public key: another department, and a caller without a token.
    for headers in (departments["b"], {}):
        current = client.get(f"/v1/departments/{A}/encryption-key", headers=headers)
        assert current.status_code == 200, current.text
        key = current.json()
        assert key["serial"] == 1 and key["indexed"] is True
        assert key["public_key"] == resource["public_key"]
        assert key["fingerprint"] == "0x" + runtime.ledger.keys.key_hash_at(A, 1).hex()
        assert key["published"]["tx_hash"] == operation["chain"]["tx_hash"]
    parsed = EncryptionPublicKey.decode(bytes.fromhex(key["public_key"][2:]))
    assert parsed == held.public_key


def test_rotation_gives_serial_2_keeps_the_old_key_and_lists_both(
    client: TestClient, departments: dict[str, Headers], runtime: Runtime, relay: Callable[[], None]
) -> None:
    first = publish(client, departments["a"], kem="x25519").json()
    settled(client, runtime, relay, departments["a"], first)
    second = publish(client, departments["a"]).json()
    settled(client, runtime, relay, departments["a"], second)

    key = client.get(f"/v1/departments/{A}/encryption-key", headers=departments["b"]).json()
    assert (key["serial"], key["kem"]) == (2, "mlkem768-x25519")
    old = runtime.encryption_key(A, Digest.from_hex(first["resource"]["fingerprint"]))
    assert old is not None and old.suite is Suite.X25519
    history = client.get(f"/v1/departments/{A}/encryption-keys", params={"limit": 1}).json()
    assert [k["serial"] for k in history["items"]] == [2]
    rest = client.get(
        f"/v1/departments/{A}/encryption-keys", params={"cursor": history["next_cursor"]}
    ).json()
    assert [(k["serial"], k["kem"]) for k in rest["items"]] == [(1, "x25519")]
    assert rest["next_cursor"] is None


def test_the_index_rebuilt_from_its_events_gives_the_same_keys(
    client: TestClient, departments: dict[str, Headers], runtime: Runtime, relay: Callable[[], None]
) -> None:
    for kem in ("x25519", "mlkem768-x25519"):
        settled(
            client,
            runtime,
            relay,
            departments["a"],
            publish(client, departments["a"], kem=kem).json(),
        )
    before = client.get(f"/v1/departments/{A}/encryption-keys").json()

    with runtime.engine.begin() as conn:
        conn.execute(delete(ENCRYPTION_KEYS))
        projections.rebuild(conn)
    assert client.get(f"/v1/departments/{A}/encryption-keys").json() == before
    runtime.indexer.reindex()
    assert client.get(f"/v1/departments/{A}/encryption-keys").json() == before


def test_a_department_holding_its_own_keys_publishes_with_its_signature(
    client: TestClient, governance: Headers, runtime: Runtime, relay: Callable[[], None]
) -> None:
    signer = Account.create()
    enrolled = client.post(
        "/v1/departments",
        json={"department_id": 23, "name": "own keys", "signer_address": signer.address},
        headers=governance,
    ).json()
    headers = {"Authorization": f"Bearer {enrolled['token']}"}
    relay()
    own = EncryptionKeyPair.generate(Suite.X25519).public_key
    nonces = client.get("/v1/departments/23/nonces", headers=headers).json()["nonces"]
    nonce = nonces["KeyDirectory"]["next_nonce"]
    deadline = runtime.chain.block_time() + 600
    action = runtime.ledger.keys.typed_action(
        "PublishEncryptionKey",
        {"kemId": Kem.X25519, "publicKey": own.raw},
        department_id=23,
        nonce=nonce,
        deadline=deadline,
    )

    def body(by: Any) -> dict[str, Any]:
        signature = {
            "nonce": nonce,
            "deadline": deadline,
            "signature": "0x" + action.sign(by).hex(),
        }
        return {"public_key": "0x" + own.encode().hex(), "signature": signature}

    unsigned = publish(client, headers, 23, public_key="0x" + own.encode().hex())
    assert unsigned.status_code == 403  # the service has no signing key of theirs
    generated = publish(client, headers, 23)
    assert generated.status_code == 403 and runtime.encryption_key(23) is None
    forged = publish(client, headers, 23, **body(Account.create()))
    assert (forged.status_code, forged.json()["code"]) == (422, "invalid-signature")

    accepted = publish(client, headers, 23, **body(signer))

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["resource"]["custodial"] is False
    settled(client, runtime, relay, headers, accepted.json())
    key = client.get("/v1/departments/23/encryption-key").json()
    assert key["fingerprint"] == own.fingerprint().hex() == "0x" + keccak(own.raw).hex()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"public_key": "0x0020" + "ab" * 31}, "invalid-request"),  # 31 bytes
        ({"public_key": "0x647a" + "ab" * 32}, "invalid-request"),  # X25519's length
        ({"public_key": "0x0021" + "ab" * 32}, "invalid-request"),  # no KEM the directory takes
        ({"public_key": "0x00"}, "invalid-request"),  # no room for the KEM id
        ({"public_key": "0x647a" + "ff" * 1216}, "encryption-key-invalid"),  # no ML-KEM key
        ({"kem": "x25519", "public_key": "0x647a" + "ab" * 1216}, "invalid-input"),
        ({"kem": "kyber"}, "invalid-request"),
        ({"public_key": "0x0020" + "ab" * 1300}, "invalid-request"),  # longer than any key
        ({"public_key": "0x0020abc"}, "invalid-request"),  # half a byte
    ],
    ids=[
        "short", "wrong-length-for-kem", "unknown-kem", "no-kem-id", "not-a-key", "kem-disagrees",
        "unknown-kem-name", "too-long", "odd-hex",
    ],
)  # fmt: skip
def test_a_key_the_directory_would_not_take_is_refused_with_its_code(
    client: TestClient, departments: dict[str, Headers], runtime: Runtime, body: Any, code: str
) -> None:
    refused = publish(client, departments["a"], **body)

    assert (refused.status_code, refused.json()["code"]) == (422, code), refused.text
    assert runtime.encryption_key(A) is None


def test_only_a_department_publishes_and_only_its_own_key(
    client: TestClient, departments: dict[str, Headers], governance: Headers
) -> None:
    auditor = client.post("/v1/auditors", json={"label": "NAO"}, headers=governance).json()
    for headers in (governance, {"Authorization": f"Bearer {auditor['token']}"}):
        refused = publish(client, headers)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert publish(client, {}).status_code == 401
    other = publish(client, departments["b"], A)
    assert (other.status_code, other.json()["code"]) == (403, "forbidden")
    assert "its own encryption key only" in other.json()["detail"]


def test_a_suspended_department_is_refused_at_once(
    client: TestClient,
    enrol: Enrol,
    governance: Headers,
    runtime: Runtime,
    relay: Callable[[], None],
) -> None:
    headers = enrol({77: "to suspend"})["to suspend"]
    client.post("/v1/departments/77/suspend", json={"reason": "audit"}, headers=governance)
    relay()

    refused = publish(client, headers, 77)

    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "DepartmentInactive"
    assert runtime.encryption_key(77) is None


def test_a_department_without_a_key_is_a_404_with_its_code(
    client: TestClient, departments: dict[str, Headers]
) -> None:
    none = client.get(f"/v1/departments/{A}/encryption-key")
    assert (none.status_code, none.json()["code"]) == (404, "encryption-key-not-published")
    unknown = client.get("/v1/departments/999/encryption-key")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not-found")
    empty = client.get(f"/v1/departments/{A}/encryption-keys").json()
    assert empty["items"] == []


def test_a_retry_with_the_same_idempotency_key_generates_no_second_key(
    client: TestClient, departments: dict[str, Headers], runtime: Runtime
) -> None:
    headers = {**departments["a"], "Idempotency-Key": os.urandom(8).hex()}
    first = publish(client, headers)
    held = runtime.encryption_key(A)

    again = publish(client, headers)

    assert again.json() == first.json()
    assert runtime.encryption_key(A) is not None
    assert runtime.encryption_keystore.retired_paths(A) == []  # rotated once only
    assert held is not None
