"""Sealed exchange over HTTP: A seals a file in its client, the service keeps only sealed bytes
and wrapped keys, and hands them to B only while the chain says B has access."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.errors import WrappedKeyError
from ledger.hashing import Digest
from ledger.runtime import Runtime
from ledger.sealing import (
    EncryptionPublicKey,
    KeyBinding,
    Suite,
    WrappedKey,
    open_to_path,
    seal,
    unwrap_content_key,
    wrap_content_key,
)

DAY = 86_400
PLAINTEXT = os.urandom(300_000) + b"the end"  # several chunks at the 64 KiB chunks used here
CHUNK = 64 * 1024

Headers = dict[str, str]


def publish_custodial_key(runtime: Runtime, department_id: int, suite: Suite) -> None:
    """The department's encryption key made and kept by the service, published on chain by
    the department's custodial signing key (the service's relayer account sends it)."""
    public = runtime.encryption_keystore.rotate(department_id, runtime.passphrase, suite=suite)
    publish_public_key(runtime, department_id, public)


def publish_public_key(runtime: Runtime, department_id: int, public: EncryptionPublicKey) -> None:
    keys = runtime.ledger.keys
    signer = runtime.department_key(department_id)
    assert signer is not None
    raw = public.encode()[2:]
    auth = keys.sign_publish_encryption_key(
        public.suite.kem_id,
        raw,
        signer=signer,
        department_id=department_id,
        deadline=runtime.chain.block_time() + 3600,
    )
    keys.publish_encryption_key_by_sig(
        public.suite.kem_id, raw, auth=auth, sender=runtime.service_account
    )


@dataclass
class Sealed:
    """A file sealed in A's client: the sealed bytes, their digest, the content key."""

    data: bytes
    digest: Digest
    content_key: bytes


def seal_bytes(plaintext: bytes) -> Sealed:
    content_key = secrets.token_bytes(32)
    out = io.BytesIO()
    summary = seal(io.BytesIO(plaintext), out, content_key, chunk_size=CHUNK)
    return Sealed(out.getvalue(), summary.sealed_sha256, content_key)


def binding(runtime: Runtime, dataset_id: str, sealed: Digest, department: int) -> KeyBinding:
    return KeyBinding(
        chain_id=runtime.chain.chain_id,
        registry=runtime.ledger.datasets.address,
        dataset_id=bytes.fromhex(dataset_id[2:]),
        sealed_sha256=sealed,
        recipient_department=department,
    )


def upload(client: TestClient, headers: Headers, sealed: Sealed) -> Any:
    return client.put(
        f"/v1/blobs/sha256/{sealed.digest.value.hex()}",
        content=sealed.data,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    relay: Callable[[], None]
    headers: dict[str, Headers]
    ids: dict[str, int]

    def sync(self) -> None:
        self.relay()
        self.runtime.indexer.sync()

    def wrapped_to(self, who: str, dataset_id: str, sealed: Sealed) -> str:
        department = self.ids[who]
        public = self.runtime.encryption_keystore.public_key(department)
        context = binding(self.runtime, dataset_id, sealed.digest, department)
        return "0x" + wrap_content_key(sealed.content_key, public, context).encode().hex()

    def register_sealed(self, plaintext: bytes = PLAINTEXT) -> tuple[str, Sealed]:
        """A's sealed dataset, registered and indexed: its id and the sealed file."""
        sealed = seal_bytes(plaintext)
        assert upload(self.client, self.headers["a"], sealed).status_code == 201
        salt = "0x" + os.urandom(32).hex()
        dataset_id = (
            "0x"
            + self.runtime.ledger.datasets.dataset_id_of(
                self.ids["a"], bytes.fromhex(salt[2:])
            ).hex()
        )
        response = self.client.post(
            "/v1/datasets",
            json={
                "content_hash": "0x" + hashlib.sha256(plaintext).hexdigest(),
                "metadata": {"title": "benefit claims"},
                "classification": "restricted",
                "salt": salt,
                "sealed": sealed_body(self, sealed, dataset_id),
            },
            headers=self.headers["a"],
        )
        assert response.status_code == 202, response.text
        assert response.json()["resource"]["sealed"]["sha256"] == "0x" + sealed.digest.value.hex()
        self.sync()
        return dataset_id, sealed

    def grant(self, dataset_id: str, who: str = "b") -> str:
        asked = self.client.post(
            f"/v1/datasets/{dataset_id}/access-requests",
            json={"purpose": "fraud analytics", "duration_seconds": 30 * DAY},
            headers=self.headers[who],
        )
        assert asked.status_code == 202, asked.text
        request_id = str(asked.json()["resource"]["request_id"])
        self.sync()
        approved = self.client.post(
            f"/v1/access-requests/{request_id}/approve",
            json={"expires_at": self.runtime.chain.block_time() + 10 * DAY},
            headers=self.headers["a"],
        )
        assert approved.status_code == 202, approved.text
        self.sync()
        return request_id


@pytest.fixture
def world(
    client: TestClient,
    runtime: Runtime,
    enrol: Callable[[dict[int, str]], dict[str, Headers]],
    relay: Callable[[], None],
    governance: Headers,
) -> World:
    """Departments a, b (both with custodial encryption keys: a hybrid, b X25519) and c (no
    encryption key), and an auditor."""
    ids = {"a": 41, "b": 42, "c": 43}
    headers = enrol({department: name for name, department in ids.items()})
    publish_custodial_key(runtime, ids["a"], Suite.MLKEM768_X25519)
    publish_custodial_key(runtime, ids["b"], Suite.X25519)
    auditor = client.post("/v1/auditors", json={}, headers=governance).json()
    headers["auditor"] = {"Authorization": f"Bearer {auditor['token']}"}
    headers["governance"] = governance
    return World(client, runtime, relay, headers, ids)


def fetch(world: World, who: str, dataset_id: str, version: int = 1) -> Any:
    return world.client.get(
        f"/v1/datasets/{dataset_id}/versions/{version}/sealed", headers=world.headers[who]
    )


def content_key(world: World, who: str, dataset_id: str, version: int = 1) -> Any:
    return world.client.post(
        f"/v1/datasets/{dataset_id}/versions/{version}/content-key", headers=world.headers[who]
    )


def test_a_grantee_receives_the_sealed_bytes_and_opens_them_to_the_registered_content(
    world: World, tmp_path: Path
) -> None:
    dataset_id, sealed = world.register_sealed()
    assert fetch(world, "b", dataset_id).json()["code"] == "access-not-granted"

    world.grant(dataset_id)

    download = fetch(world, "b", dataset_id)
    assert download.status_code == 200
    assert download.content == sealed.data
    assert download.headers["etag"] == f'"{sealed.digest.value.hex()}"'
    key = content_key(world, "b", dataset_id)
    assert key.status_code == 200, key.text
    answer = key.json()
    assert answer["content_hash"] == "0x" + hashlib.sha256(PLAINTEXT).hexdigest()
    assert answer["sealed"]["sha256"] == "0x" + sealed.digest.value.hex()
    target = tmp_path / "claims.csv"
    open_to_path(
        io.BytesIO(download.content),
        target,
        bytes.fromhex(answer["content_key"][2:]),
        expected_sha256=Digest(bytes.fromhex(answer["content_hash"][2:])),
    )
    assert target.read_bytes() == PLAINTEXT


def test_the_wrapped_key_unwraps_with_the_grantees_own_key_for_the_binding_it_names(
    world: World,
) -> None:
    dataset_id, sealed = world.register_sealed()
    world.grant(dataset_id)

    answer = world.client.get(
        f"/v1/datasets/{dataset_id}/versions/1/sealed-key", headers=world.headers["b"]
    ).json()

    b = world.ids["b"]
    assert answer["recipient_department"] == b
    assert answer["binding"]["sealed_sha256"] == "0x" + sealed.digest.value.hex()
    key_hash = world.runtime.ledger.keys.current_key(b).key_hash
    assert answer["fingerprint"] == "0x" + key_hash.hex()
    own = world.runtime.encryption_key(b)
    assert own is not None
    wrapped = WrappedKey.decode(bytes.fromhex(answer["wrapped_key"][2:]))
    opened = unwrap_content_key(wrapped, own, binding(world.runtime, dataset_id, sealed.digest, b))
    assert opened == sealed.content_key
    # The same key is no use to another department: the binding names b.
    c_context = binding(world.runtime, dataset_id, sealed.digest, world.ids["c"])
    with pytest.raises(WrappedKeyError):
        unwrap_content_key(wrapped, own, c_context)


def test_a_download_resumes_from_a_byte_offset(world: World) -> None:
    dataset_id, sealed = world.register_sealed()
    world.grant(dataset_id)
    cut = len(sealed.data) // 3

    rest = world.client.get(
        f"/v1/datasets/{dataset_id}/versions/1/sealed",
        headers={**world.headers["b"], "Range": f"bytes={cut}-"},
    )

    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes {cut}-{len(sealed.data) - 1}/{len(sealed.data)}"
    assert sealed.data[:cut] + rest.content == sealed.data
    past = world.client.get(
        f"/v1/datasets/{dataset_id}/versions/1/sealed",
        headers={**world.headers["b"], "Range": f"bytes={len(sealed.data)}-"},
    )
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(sealed.data)}"


def test_the_owner_fetches_its_own_sealed_version(world: World) -> None:
    dataset_id, sealed = world.register_sealed()
    assert fetch(world, "a", dataset_id).content == sealed.data
    key = content_key(world, "a", dataset_id).json()
    assert key["content_key"] == "0x" + sealed.content_key.hex()


@pytest.mark.parametrize("who", ["c", "auditor", "governance"])
def test_no_one_without_a_grant_gets_the_bytes_or_the_key(world: World, who: str) -> None:
    dataset_id, _ = world.register_sealed()
    world.grant(dataset_id)
    expected = {"c": "access-not-granted", "auditor": "forbidden", "governance": "forbidden"}

    for response in (
        fetch(world, who, dataset_id),
        content_key(world, who, dataset_id),
        world.client.get(
            f"/v1/datasets/{dataset_id}/versions/1/sealed-key", headers=world.headers[who]
        ),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == expected[who]


def test_revocation_stops_downloads_at_once(world: World) -> None:
    dataset_id, _ = world.register_sealed()
    request_id = world.grant(dataset_id)
    assert fetch(world, "b", dataset_id).status_code == 200

    revoked = world.client.post(
        f"/v1/grants/{request_id}/revoke",
        json={"reason": "end of study"},
        headers=world.headers["a"],
    )
    assert revoked.status_code == 202
    world.relay()  # mined; the index has not read it yet: the chain decides

    assert fetch(world, "b", dataset_id).json()["code"] == "access-not-granted"
    assert content_key(world, "b", dataset_id).json()["code"] == "access-not-granted"
    world.sync()  # once indexed, the refusal says why
    assert fetch(world, "b", dataset_id).json()["code"] == "access-revoked"


def test_a_suspended_grantee_cannot_fetch(world: World) -> None:
    dataset_id, _ = world.register_sealed()
    world.grant(dataset_id)
    suspended = world.client.post(
        f"/v1/departments/{world.ids['b']}/suspend",
        json={"reason": "audit"},
        headers=world.headers["governance"],
    )
    assert suspended.status_code == 202, suspended.text
    world.relay()

    assert fetch(world, "b", dataset_id).json()["code"] == "access-not-granted"


def test_a_version_sealed_after_the_grant_is_wrapped_to_the_grantee(world: World) -> None:
    dataset_id, first = world.register_sealed()
    world.grant(dataset_id)
    second = seal_bytes(b"version two")
    assert upload(world.client, world.headers["a"], second).status_code == 201

    added = world.client.post(
        f"/v1/datasets/{dataset_id}/versions",
        json={
            "content_hash": "0x" + hashlib.sha256(b"version two").hexdigest(),
            "sealed": sealed_body(world, second, dataset_id),
        },
        headers=world.headers["a"],
    )
    assert added.status_code == 202, added.text
    assert added.json()["resource"]["sealed"]["wrapped_to"] == [world.ids["b"]]
    world.sync()

    key = content_key(world, "b", dataset_id, version=2).json()
    assert key["content_key"] == "0x" + second.content_key.hex()
    assert first.content_key != second.content_key  # each version its own key


def test_approval_is_refused_while_the_grantee_has_no_encryption_key(world: World) -> None:
    dataset_id, _ = world.register_sealed()
    asked = world.client.post(
        f"/v1/datasets/{dataset_id}/access-requests",
        json={"purpose": "research", "duration_seconds": 30 * DAY},
        headers=world.headers["c"],
    ).json()
    world.sync()

    refused = world.client.post(
        f"/v1/access-requests/{asked['resource']['request_id']}/approve",
        json={"expires_at": world.runtime.chain.block_time() + DAY},
        headers=world.headers["a"],
    )

    assert refused.status_code == 409
    assert refused.json()["code"] == "recipient-key-missing"
    world.relay()
    assert (
        world.runtime.ledger.access.has_access(bytes.fromhex(dataset_id[2:]), world.ids["c"])
        is False
    )  # nothing was queued


def sealed_body(world: World, sealed: Sealed, dataset_id: str, **change: Any) -> dict[str, Any]:
    return {
        "sha256": "0x" + sealed.digest.value.hex(),
        "size": len(sealed.data),
        "wrapped_key": world.wrapped_to("a", dataset_id, sealed),
        **change,
    }


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("not uploaded", 422, "sealed-blob-missing"),
        ("wrong size", 422, "sealed-blob-missing"),
        ("wrapped to b", 422, "wrapped-key-wrong-recipient"),
        ("wrapped for another dataset", 422, "wrapped-key-invalid"),
        ("not a wrapped key", 422, "invalid-input"),
        ("no salt", 422, "invalid-input"),
        ("batched", 422, "invalid-request"),
    ],
)
def test_a_sealed_registration_that_would_not_open_is_refused(
    world: World, case: str, status: int, code: str
) -> None:
    sealed = seal_bytes(b"payroll")
    if case != "not uploaded":
        upload(world.client, world.headers["a"], sealed)
    salt = os.urandom(32)
    dataset_id = "0x" + world.runtime.ledger.datasets.dataset_id_of(world.ids["a"], salt).hex()
    body = sealed_body(world, sealed, dataset_id)
    request: dict[str, Any] = {"salt": "0x" + salt.hex()}
    if case == "wrong size":
        body["size"] += 1
    elif case == "wrapped to b":
        body["wrapped_key"] = world.wrapped_to("b", dataset_id, sealed)
    elif case == "wrapped for another dataset":
        body["wrapped_key"] = world.wrapped_to("a", "0x" + "77" * 32, sealed)
    elif case == "not a wrapped key":
        body["wrapped_key"] = "0x" + "02" * 120
    elif case == "no salt":
        request = {}
    elif case == "batched":
        request["anchoring"] = "batch"

    response = world.client.post(
        "/v1/datasets",
        json={
            "content_hash": "0x" + hashlib.sha256(b"payroll").hexdigest(),
            "metadata": {"title": "payroll"},
            "sealed": body,
            **request,
        },
        headers=world.headers["a"],
    )

    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_a_blob_is_stored_once_and_only_if_its_bytes_hash_to_its_name(
    world: World, runtime: Runtime
) -> None:
    sealed = seal_bytes(b"abc")
    first = upload(world.client, world.headers["a"], sealed)
    again = upload(world.client, world.headers["b"], sealed)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == {"sha256": "0x" + sealed.digest.value.hex(), "size": len(sealed.data)}

    other = seal_bytes(b"abd")
    lying = world.client.put(
        f"/v1/blobs/sha256/{other.digest.value.hex()}",
        content=sealed.data,
        headers={**world.headers["a"], "Content-Type": "application/octet-stream"},
    )
    assert lying.status_code == 422
    assert lying.json()["code"] == "blob-digest-mismatch"
    assert not runtime.blobs.exists(other.digest)


@pytest.mark.parametrize(
    ("who", "content", "content_type", "status", "code"),
    [
        ("a", b"plain text, not sealed", "application/octet-stream", 422, "seal-format"),
        ("a", b"x", "text/plain", 422, "invalid-input"),
        ("auditor", None, "application/octet-stream", 403, "forbidden"),
        (None, None, "application/octet-stream", 401, "unauthenticated"),
    ],
)
def test_a_blob_upload_is_refused_unless_a_department_sends_sealed_bytes(
    world: World,
    runtime: Runtime,
    who: str | None,
    content: bytes | None,
    content_type: str,
    status: int,
    code: str,
) -> None:
    sealed = seal_bytes(b"abc")
    data = sealed.data if content is None else content
    digest = hashlib.sha256(data).hexdigest()
    headers = {**(world.headers[who] if who else {}), "Content-Type": content_type}

    response = world.client.put(f"/v1/blobs/sha256/{digest}", content=data, headers=headers)

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert not runtime.blobs.exists(Digest(bytes.fromhex(digest)))


def test_a_self_custody_owner_hands_over_keys_it_wrapped_itself(world: World) -> None:
    dataset_id, sealed = world.register_sealed()
    b = world.ids["b"]
    b_public = world.runtime.encryption_keystore.public_key(b)
    wrapped = wrap_content_key(
        sealed.content_key, b_public, binding(world.runtime, dataset_id, sealed.digest, b)
    )
    body = {
        "sealed_sha256": "0x" + sealed.digest.value.hex(),
        "department_id": b,
        "wrapped_key": "0x" + wrapped.encode().hex(),
    }

    by_b = world.client.post(
        f"/v1/datasets/{dataset_id}/sealed-keys", json=body, headers=world.headers["b"]
    )
    handed = world.client.post(
        f"/v1/datasets/{dataset_id}/sealed-keys", json=body, headers=world.headers["a"]
    )
    to_c = world.client.post(
        f"/v1/datasets/{dataset_id}/sealed-keys",
        json={**body, "department_id": world.ids["c"]},
        headers=world.headers["a"],
    )

    assert by_b.status_code == 403
    assert handed.status_code == 201, handed.text
    assert handed.json()["fingerprint"] == "0x" + b_public.fingerprint().value.hex()
    assert to_c.status_code == 409
    assert to_c.json()["code"] == "recipient-key-missing"


def test_a_version_without_sealed_bytes_has_nothing_to_fetch(world: World) -> None:
    plain = world.client.post(
        "/v1/datasets",
        json={"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": "open data"}},
        headers=world.headers["a"],
    ).json()
    world.sync()

    response = fetch(world, "a", plain["resource"]["dataset_id"])

    assert response.status_code == 404
    assert response.json()["code"] == "not-sealed"


def test_a_rotated_grantee_key_still_opens_keys_wrapped_before_the_rotation(world: World) -> None:
    dataset_id, sealed = world.register_sealed()
    world.grant(dataset_id)
    publish_custodial_key(world.runtime, world.ids["b"], Suite.MLKEM768_X25519)

    key = content_key(world, "b", dataset_id)

    assert key.status_code == 200, key.text
    assert key.json()["content_key"] == "0x" + sealed.content_key.hex()


def test_an_expired_grant_stops_downloads_and_says_so(world: World) -> None:
    dataset_id, _ = world.register_sealed()
    world.grant(dataset_id)
    assert fetch(world, "b", dataset_id).status_code == 200

    world.runtime.chain.advance_time(11 * DAY)  # the grant ran for 10 days

    expired = fetch(world, "b", dataset_id)
    assert expired.status_code == 403
    assert expired.json()["code"] == "access-expired"


def test_me_names_the_token_and_the_deployment_it_acts_on(world: World) -> None:
    me = world.client.get("/v1/me", headers=world.headers["a"]).json()
    auditor = world.client.get("/v1/me", headers=world.headers["auditor"]).json()

    assert me["kind"] == "department"
    assert me["department_id"] == world.ids["a"]
    assert me["deployment"]["chain_id"] == world.runtime.chain.chain_id
    assert me["deployment"]["dataset_registry"] == world.runtime.ledger.datasets.address
    assert (auditor["kind"], auditor["department_id"]) == ("auditor", None)
    assert world.client.get("/v1/me").status_code == 401
