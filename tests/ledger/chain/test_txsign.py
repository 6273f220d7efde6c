"""Fast call signing and encoding give the very bytes eth-account and web3 give."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.chain.abi_json import calldata, function_inputs, to_json
from ledger.chain.deploy import Ledger
from ledger.chain.txsign import CallSigner

FEES = [
    {"maxFeePerGas": 3_000_000_000, "maxPriorityFeePerGas": 1_000_000_000},
    {"maxFeePerGas": 7, "maxPriorityFeePerGas": 0},
    {"gasPrice": 20_000_000_000},
    {"gasPrice": 0},
]


@pytest.mark.parametrize("fees", FEES)
@pytest.mark.parametrize("seed", range(8))
def test_a_signed_call_is_byte_for_byte_eth_accounts(fees: dict[str, int], seed: int) -> None:
    account: LocalAccount = Account.from_key(keccak(text=f"provledger-test:txsign:{seed}"))
    data = os.urandom(seed * 40)  # empty, short, and past the 55-byte RLP long form
    tx = {
        "to": Account.create().address,
        "data": data,
        "value": seed,
        "gas": 21_000 + seed * 10_000,
        "nonce": seed * 1000,
        "chainId": [1, 31337, 0x70726F76, 2**40][seed % 4],
        **fees,
    }
    expected = account.sign_transaction(tx)

    signed = CallSigner(account).sign(
        chain_id=tx["chainId"], nonce=tx["nonce"], to=tx["to"], data=data, gas=tx["gas"],
        fees=fees, value=seed,
    )  # fmt: skip

    assert signed.raw == bytes(expected.raw_transaction)
    assert signed.hash == bytes(expected.hash)


def test_calldata_is_what_web3_encodes(ledger: Ledger, actors: object) -> None:
    parents = [(os.urandom(32), 3), (os.urandom(32), 1)]
    auth = (1, 5, 2**40, os.urandom(65))
    version = (os.urandom(32), os.urandom(32), parents)
    cases = [
        ("DatasetRegistry", "addVersionBySig", [os.urandom(32), version, auth]),
        ("DepartmentRegistry", "enrolDepartment", [9, "Département ✓", Account.create().address]),
        ("AnchorRegistry", "anchorBatchBySig", [os.urandom(32), 1000, os.urandom(32), auth]),
    ]  # fmt: skip
    clients = {"DatasetRegistry": ledger.datasets, "DepartmentRegistry": ledger.departments,
               "AnchorRegistry": ledger.anchors}  # fmt: skip
    for contract, function, args in cases:
        web3_data = clients[contract].contract.functions[function](*args)._encode_transaction_data()
        ours = calldata(contract, function, to_json(args, function_inputs(contract, function)))
        assert "0x" + ours.hex() == web3_data
