"""Delivery receipts over HTTP: after a real sealed fetch, B acknowledges what it received;
the receipt is anchored with B's key, its bundle checks against the chain, and every claim a
receipt makes is checked before it is kept."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
import test_sealed_exchange as exchange
from eth_account import Account
from test_sealed_exchange import PLAINTEXT, Sealed, World, fetch

from ledger.anchoring.receipts import check_bundle_on_chain
from ledger.delivery import Receipt, receipt_domain
from ledger.errors import InvalidProofError
from ledger.verifier import Verifier

world = exchange.world  # A and B with custodial encryption keys, C without, an auditor


def fetched(world: World) -> tuple[str, Sealed, str]:
    """A's sealed dataset, granted to B, and fetched by B over HTTP: (dataset, sealed, request)."""
    dataset_id, sealed = world.register_sealed()
    request_id = world.grant(dataset_id)
    download = fetch(world, "b", dataset_id)
    assert download.status_code == 200 and download.content == sealed.data
    return dataset_id, sealed, request_id


def body(dataset_id: str, sealed: Sealed, request_id: str, **change: Any) -> dict[str, Any]:
    return {
        "dataset_id": dataset_id,
        "version": 1,
        "content_hash": "0x" + hashlib.sha256(PLAINTEXT).hexdigest(),
        "sealed_sha256": "0x" + sealed.digest.value.hex(),
        "request_id": request_id,
        **change,
    }


def b_receipt(world: World, dataset_id: str, sealed: Sealed, request_id: str, now: int) -> Receipt:
    """B's receipt of version 1, as B's own client would sign it."""
    return Receipt(
        dataset_id=bytes.fromhex(dataset_id[2:]),
        version=1,
        content_hash=hashlib.sha256(PLAINTEXT).digest(),
        sealed_hash=sealed.digest.value,
        request_id=bytes.fromhex(request_id[2:]),
        department_id=world.ids["b"],
        time=now,
    )


def post(world: World, who: str, document: dict[str, Any]) -> Any:
    return world.client.post("/v1/receipts", json=document, headers=world.headers[who])


def check(world: World, bundle: Any) -> Any:
    ledger = world.runtime.ledger
    return check_bundle_on_chain(Verifier.for_ledger(ledger), ledger.access, ledger.anchors, bundle)


def test_a_receipt_after_a_fetch_is_anchored_by_the_receivers_key_and_its_bundle_checks(
    world: World,
) -> None:
    dataset_id, sealed, request_id = fetched(world)

    posted = post(world, "b", body(dataset_id, sealed, request_id))
    assert posted.status_code == 201, posted.text
    receipt = posted.json()
    assert receipt["status"] == "queued"
    assert receipt["department_id"] == world.ids["b"] and receipt["request_id"] == request_id
    assert post(world, "b", body(dataset_id, sealed, request_id, time=receipt["time"])).json() == (
        receipt
    )  # the same receipt again: kept once

    report = world.runtime.receipt_batcher.tick(force=True)
    assert (report.batches, report.records) == (1, 1)
    world.relay()
    bundle = world.client.get(f"/v1/receipts/{receipt['receipt_id']}", headers=world.headers["a"])
    assert bundle.status_code == 200, bundle.text
    document = bundle.json()
    assert document["status"] == "anchored"
    assert document["anchor"]["signer"] == document["signer"]  # B's key signed both
    verdict = check(world, document)
    assert verdict.anchored and verdict.signer == receipt["signer"]
    assert verdict.receipt["version"] == 1 and verdict.receipt["departmentId"] == world.ids["b"]

    # Another deployment's receipt is another digest: the domain binds it to this registry.
    typed = Receipt.from_message(document["receipt"]["message"])
    here = receipt_domain(world.runtime.chain.chain_id, world.runtime.ledger.access.address)
    elsewhere = receipt_domain(world.runtime.chain.chain_id, "0x" + "11" * 20)
    assert "0x" + typed.digest(here).hex() == receipt["receipt_id"]
    assert typed.digest(elsewhere) != typed.digest(here)


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (lambda b: b["receipt"]["message"].update(version=2), "hashes to"),
        (lambda b: b.update(signer="0x" + "22" * 20), "signature is by"),
        (lambda b: b["inclusion"].update(leaf_index=1 - b["inclusion"]["leaf_index"]), "leads to"),
        (lambda b: b["anchor"].update(root="0x" + "33" * 32), "leads to root"),
        (lambda b: b["receipt"]["domain"].update(verifyingContract="0x" + "44" * 20), "hashes to"),
    ],
)
def test_a_tampered_bundle_fails_the_check_by_name(world: World, tamper: Any, named: str) -> None:
    dataset_id, sealed, request_id = fetched(world)
    second, second_sealed, second_request = fetched(world)
    for dataset, seal, request in (
        (dataset_id, sealed, request_id),
        (second, second_sealed, second_request),
    ):
        assert post(world, "b", body(dataset, seal, request)).status_code == 201
    world.runtime.receipt_batcher.tick(force=True)
    world.relay()
    listed = world.client.get(f"/v1/datasets/{dataset_id}/receipts", headers=world.headers["b"])
    receipt_id = listed.json()["receipts"][0]["receipt_id"]
    bundle = world.client.get(f"/v1/receipts/{receipt_id}", headers=world.headers["auditor"]).json()
    assert bundle["inclusion"]["tree_size"] == 2
    check(world, bundle)
    tampered = copy.deepcopy(bundle)
    tamper(tampered)
    with pytest.raises(InvalidProofError, match=named):
        check(world, tampered)


def test_each_false_claim_is_refused_with_its_code(world: World) -> None:
    dataset_id, sealed, request_id = fetched(world)
    now = world.runtime.chain.block_time()
    good = body(dataset_id, sealed, request_id, time=now)

    def refused(who: str, document: dict[str, Any]) -> tuple[int, str]:
        answer = post(world, who, document)
        return answer.status_code, answer.json()["code"]

    # Signed by a key that is not B's: a forger, or another department's key.
    receipt = b_receipt(world, dataset_id, sealed, request_id, now)
    domain = receipt_domain(world.runtime.chain.chain_id, world.runtime.ledger.access.address)
    for key in (Account.create(), world.runtime.department_key(world.ids["c"])):
        assert key is not None
        forged = {**good, "signature": {"signature": "0x" + receipt.sign(key, domain).hex()}}
        assert refused("b", forged) == (422, "invalid-signature")
    # B's own key, properly signed, is accepted as B's.
    own = world.runtime.department_key(world.ids["b"])
    assert own is not None
    signed = {**good, "signature": {"signature": "0x" + receipt.sign(own, domain).hex()}}
    assert post(world, "b", signed).status_code == 201

    assert refused("b", {**good, "content_hash": "0x" + "55" * 32}) == (422, "receipt-mismatch")
    assert refused("b", {**good, "sealed_sha256": "0x" + "55" * 32}) == (422, "receipt-mismatch")
    assert refused("b", {**good, "version": 2})[0] == 404
    assert refused("b", {**good, "time": now - 3600}) == (422, "receipt-time-skew")
    assert refused("b", {**good, "request_id": "0x" + "66" * 32}) == (
        422,
        "receipt-wrong-request",
    )
    # C was never granted; A owns the dataset and receives nothing.
    assert refused("c", good) == (403, "access-not-granted")
    assert refused("a", good) == (422, "receipt-wrong-request")
    assert refused("auditor", good)[0] == 403

    revoked = world.client.post(
        f"/v1/grants/{request_id}/revoke", json={"reason": "end"}, headers=world.headers["a"]
    )
    assert revoked.status_code == 202
    world.sync()
    assert refused("b", {**good, "time": now + 1}) == (403, "access-revoked")


def test_the_owner_and_auditors_list_receipts_and_other_departments_do_not_see_them(
    world: World,
) -> None:
    dataset_id, sealed, request_id = fetched(world)
    receipt_id = post(world, "b", body(dataset_id, sealed, request_id)).json()["receipt_id"]

    def listed(who: str) -> list[str]:
        answer = world.client.get(f"/v1/datasets/{dataset_id}/receipts", headers=world.headers[who])
        assert answer.status_code == 200, answer.text
        return [r["receipt_id"] for r in answer.json()["receipts"]]

    assert listed("a") == listed("auditor") == listed("b") == [receipt_id]
    assert listed("c") == []
    one = world.client.get(f"/v1/receipts/{receipt_id}", headers=world.headers["c"])
    assert one.status_code == 404
    unanchored = world.client.get(f"/v1/receipts/{receipt_id}", headers=world.headers["b"]).json()
    assert unanchored["status"] == "queued" and unanchored["anchor"] is None


def test_a_self_custody_receipt_is_kept_with_its_signature_and_not_anchored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id, sealed, request_id = fetched(world)
    runtime = world.runtime
    b = world.ids["b"]
    own = runtime.department_key(b)
    assert own is not None
    custodial = runtime.department_key
    # B holds its own key from here on: the service has none of B's to sign with.
    monkeypatch.setattr(
        runtime, "department_key", lambda d, a=None: None if d == b else custodial(d, a)
    )
    now = runtime.chain.block_time()
    unsigned = post(world, "b", body(dataset_id, sealed, request_id, time=now))
    assert (unsigned.status_code, unsigned.json()["code"]) == (403, "forbidden")

    receipt = b_receipt(world, dataset_id, sealed, request_id, now)
    domain = receipt_domain(runtime.chain.chain_id, runtime.ledger.access.address)
    signature = "0x" + receipt.sign(own, domain).hex()
    posted = post(
        world,
        "b",
        body(dataset_id, sealed, request_id, time=now, signature={"signature": signature}),
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["status"] == "signed" and not posted.json()["custodial"]
    assert runtime.receipt_batcher.tick(force=True).records == 0  # nothing to anchor

    bundle = world.client.get(
        f"/v1/receipts/{posted.json()['receipt_id']}", headers=world.headers["auditor"]
    ).json()
    assert bundle["anchor"] is None
    verdict = check(world, bundle)
    assert not verdict.anchored and verdict.signer == own.address
