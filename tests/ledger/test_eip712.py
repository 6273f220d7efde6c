"""The digest a department signs, computed as the contracts compute it, is the one eth-account's
generic EIP-712 encoder gives, for every action and any values; recovery names the signer."""

from __future__ import annotations

import os
import random

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from ledger.eip712 import ACTION_DOMAINS, ACTION_TYPES, Domain, TypedAction

BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64, "uint256": 256}


def _value(kind: str, rng: random.Random) -> object:
    if kind == "bytes32":
        return os.urandom(32)
    if kind == "bytes":  # any length: a public key is 32 or 1216 bytes, 0 is legal EIP-712
        return os.urandom(rng.choice([0, 1, 32, 1216]))
    if kind == "VersionRef[]":
        return [
            {"datasetId": os.urandom(32), "version": rng.randrange(1, 2**32)}
            for _ in range(rng.randrange(0, 4))
        ]
    return rng.randrange(0, 2 ** BITS[kind])


def _random_action(primary_type: str, rng: random.Random) -> TypedAction:
    domain = Domain(
        name=ACTION_DOMAINS[primary_type],
        chain_id=rng.randrange(1, 2**63),
        verifying_contract=Account.create().address,
    )
    message = {f["name"]: _value(f["type"], rng) for f in ACTION_TYPES[primary_type]}
    return TypedAction(primary_type=primary_type, domain=domain, message=message)


@pytest.mark.parametrize("primary_type", sorted(ACTION_TYPES))
def test_the_digest_is_eth_accounts_for_any_values(primary_type: str) -> None:
    rng = random.Random(primary_type)
    for _ in range(25):
        action = _random_action(primary_type, rng)
        signable = encode_typed_data(full_message=action.full_message())
        expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
        assert action.digest() == expected


@pytest.mark.parametrize("primary_type", sorted(ACTION_TYPES))
def test_a_signature_recovers_to_its_signer_and_a_changed_field_does_not(
    primary_type: str,
) -> None:
    rng = random.Random(primary_type + "sign")
    action = _random_action(primary_type, rng)
    signer = Account.create()
    signature = action.sign(signer)

    assert action.recover(signature) == signer.address
    changed = dict(action.message, nonce=action.message["nonce"] ^ 1)
    other = TypedAction(primary_type=primary_type, domain=action.domain, message=changed)
    assert other.recover(signature) != signer.address
