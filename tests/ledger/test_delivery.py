"""Delivery receipts as typed data: the digest is EIP-712's, a signature recovers to its
signer, and a bundle's offline checks name what was tampered with."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from ledger.anchoring.records import FORMAT_COMMITMENT
from ledger.delivery import (
    RECEIPT_BATCH_COMMITMENT,
    Receipt,
    check_bundle_offline,
    leaf_digest,
    receipt_domain,
)
from ledger.eip712 import Domain
from ledger.errors import InvalidInputError, InvalidProofError

REGISTRY = "0x" + "ab" * 20


def a_receipt(**change: object) -> Receipt:
    fields: dict[str, object] = {
        "dataset_id": os.urandom(32),
        "version": 3,
        "content_hash": os.urandom(32),
        "sealed_hash": os.urandom(32),
        "request_id": os.urandom(32),
        "department_id": 42,
        "time": 1_700_000_000,
    }
    fields.update(change)
    return Receipt(**fields)  # type: ignore[arg-type]


def test_the_digest_is_eip712s_and_a_signature_recovers_to_its_signer() -> None:
    receipt = a_receipt()
    domain = receipt_domain(31337, REGISTRY)
    encoded = encode_typed_data(full_message=receipt.typed_data(domain))
    assert receipt.digest(domain) == keccak(
        b"\x19" + encoded.version + encoded.header + encoded.body
    )
    # A wallet's eth_signTypedData_v4 signature is a receipt's signature.
    wallet = Account.create()
    signed = wallet.sign_message(encoded)
    assert receipt.recover(bytes(signed.signature), domain) == wallet.address
    account = Account.create()
    signature = receipt.sign(account, domain)
    assert receipt.recover(signature, domain) == account.address
    # Bound to the deployment: another chain or registry is another digest.
    assert receipt.digest(receipt_domain(1, REGISTRY)) != receipt.digest(domain)
    assert receipt.digest(receipt_domain(31337, "0x" + "cd" * 20)) != receipt.digest(domain)
    assert Receipt.from_message(receipt.message()) == receipt


def test_a_receipt_leaf_is_not_a_bare_digest_and_its_batches_are_named() -> None:
    digest = os.urandom(32)
    assert leaf_digest(digest) != digest
    assert RECEIPT_BATCH_COMMITMENT != FORMAT_COMMITMENT  # not a batch of dataset records


@pytest.mark.parametrize(
    "change", [{"version": 0}, {"dataset_id": b"short"}, {"department_id": 0}, {"time": -1}]
)
def test_a_malformed_receipt_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        a_receipt(**change)


def test_an_unanchored_bundle_checks_its_signature_and_names_tampering() -> None:
    receipt = a_receipt()
    domain = receipt_domain(31337, REGISTRY)
    account = Account.create()
    bundle = {
        "receipt_id": "0x" + receipt.digest(domain).hex(),
        "receipt": receipt.typed_data(domain),
        "signature": "0x" + receipt.sign(account, domain).hex(),
        "signer": account.address,
        "anchor": None,
    }
    facts = check_bundle_offline(bundle)
    assert facts.signer == account.address and facts.root is None
    tampered = {**bundle, "receipt": receipt.typed_data(domain)}
    tampered["receipt"]["message"]["version"] = 4
    with pytest.raises(InvalidProofError, match="hashes to"):
        check_bundle_offline(tampered)
    other = Account.create().address
    with pytest.raises(InvalidProofError, match="signature is by"):
        check_bundle_offline({**bundle, "signer": other})
    assert isinstance(domain, Domain)
