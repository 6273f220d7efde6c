"""``provledger fetch`` acknowledges what it received; ``provledger receipts`` lists, proves
and checks the receipt against the chain, through the service's /rpc."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from cli_harness import Department, Invoke, Service, answer_of, eventually

from api.client import ProvledgerClient
from ledger.sealing import Suite, wrap_content_key
from tests.api.test_sealed_exchange import binding, publish_custodial_key, seal_bytes

EXIT_TAMPERED = 7


def sealed_dataset(service: Service, owner: Department, plaintext: bytes) -> str:
    """The owner's sealed dataset, sealed as its client would, registered and confirmed."""
    sealed = seal_bytes(plaintext)
    runtime = service.runtime
    salt = os.urandom(32)
    dataset_id = "0x" + runtime.ledger.datasets.dataset_id_of(owner.id, salt).hex()
    wrapped = wrap_content_key(
        sealed.content_key,
        runtime.encryption_keystore.public_key(owner.id),
        binding(runtime, dataset_id, sealed.digest, owner.id),
    )
    blob = service.data_dir / f"{dataset_id}.sealed"
    blob.write_bytes(sealed.data)
    with ProvledgerClient(service.url, owner.token) as client:
        client.put_blob(blob, "0x" + sealed.digest.value.hex())
        accepted = client.create_dataset(
            "0x" + hashlib.sha256(plaintext).hexdigest(),
            title="household survey",
            classification="restricted",
            salt="0x" + salt.hex(),
            sealed={
                "sha256": "0x" + sealed.digest.value.hex(),
                "size": len(sealed.data),
                "wrapped_key": "0x" + wrapped.encode().hex(),
            },
        )
        client.wait_for_operation(accepted.operation_id)
    return dataset_id


def test_fetch_posts_a_receipt_that_proves_and_checks_on_chain(
    provledger: Invoke,
    service: Service,
    enrol: Callable[[str], Department],
    paused_workers: Callable[[], AbstractContextManager[None]],
    tmp_path: Path,
) -> None:
    owner, grantee = enrol("statistics"), enrol("housing")
    with paused_workers():  # the service's account sends the keys; its relayer waits
        publish_custodial_key(service.runtime, owner.id, Suite.X25519)
        publish_custodial_key(service.runtime, grantee.id, Suite.X25519)
    plaintext = os.urandom(100_000)
    dataset = sealed_dataset(service, owner, plaintext)
    requested = answer_of(
        provledger("access", "request", dataset, "--purpose", "housing need",
                   "--duration", "1d", "--json", token=grantee.token)
    )  # fmt: skip
    request_id = requested["resource"]["request_id"]
    approved = provledger("access", "approve", request_id, "--expires-in", "1h", token=owner.token)
    assert approved.exit_code == 0, approved.output

    def fetched() -> Any:
        result = provledger(
            "fetch", dataset, "-o", str(tmp_path / "survey.csv"), "--json", token=grantee.token
        )
        return result if result.exit_code == 0 else None

    result = eventually(fetched)  # once the index has the version and the chain the grant
    assert result is not None
    answer = json.loads(result.stdout)
    assert (tmp_path / "survey.csv").read_bytes() == plaintext
    receipt = answer["receipt"]
    assert receipt["request_id"] == request_id and receipt["department_id"] == grantee.id
    assert receipt["status"] == "queued"

    again = provledger(
        "fetch", dataset, "-o", str(tmp_path / "again.csv"), "--no-receipt", "--json",
        token=grantee.token,
    )  # fmt: skip
    assert answer_of(again)["receipt"] is None

    listed = answer_of(provledger("receipts", "list", dataset, "--json", token=owner.token))
    assert [r["receipt_id"] for r in listed["receipts"]] == [receipt["receipt_id"]]

    bundle_file = tmp_path / "bundle.json"

    def proven() -> bool:
        result = provledger(
            "receipts", "prove", receipt["receipt_id"], "-o", str(bundle_file),
            token=owner.token,
        )  # fmt: skip
        return result.exit_code == 0

    assert eventually(proven, timeout=20), "the receipt's batch was not anchored"
    checked = answer_of(
        provledger("receipts", "check", str(bundle_file), "--rpc", f"{service.url}/rpc", "--json")
    )
    assert checked["anchored"] and checked["receipt"]["departmentId"] == grantee.id
    assert checked["signer"] == receipt["signer"]

    bundle = json.loads(bundle_file.read_text())
    bundle["receipt"]["message"]["time"] += 1
    bundle_file.write_text(json.dumps(bundle))
    tampered = provledger("receipts", "check", str(bundle_file), "--rpc", f"{service.url}/rpc")
    assert tampered.exit_code == EXIT_TAMPERED
    assert "invalid-proof" in tampered.stderr and "hashes to" in tampered.stderr
