"""An RpcServer over the shared test chain (eth-tester read directly, or anvil forwarded to with
``--chain=anvil``), and some chain activity to read: a registered dataset and one transaction of
each type a chain of ours mines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rpc_harness import Activity, Rpc

from ledger.chain.backend import Chain
from ledger.chain.clients import DatasetRegistryClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion
from ledger.rpc import RpcLimits, RpcServer


@pytest.fixture(scope="session")
def rpc_server(chain: Chain) -> Iterator[RpcServer]:
    server = RpcServer.for_chain(chain, RpcLimits(evm_timeout=5.0))
    yield server
    server.close()


@pytest.fixture
def rpc(rpc_server: RpcServer, ledger: Ledger) -> Rpc:
    """A client of the shared server; the chain is snapshot-isolated per test."""
    return Rpc(rpc_server)


@pytest.fixture
def in_process(chain: Chain) -> None:
    if chain.py_evm is None:
        pytest.skip("runs py-evm in worker processes: only for an in-process chain")


def _fee_fields(chain: Chain) -> dict[str, int]:
    base = int(chain.w3.eth.get_block("latest")["baseFeePerGas"])
    return {"max": 2 * base + 10**9, "tip": 10**9}


@pytest.fixture
def activity(chain: Chain, ledger: Ledger, actors: Any) -> Activity:
    content = keccak(text="rpc/content")
    first = NewVersion(content, keccak(text="rpc/meta/1"), ())
    receipt = ledger.datasets.create_dataset(
        keccak(text="rpc"),
        Classification.INTERNAL,
        keccak(text="rpc/meta"),
        first,
        sender=actors.dept_a,
    )
    sender: LocalAccount = actors.outsider
    fees = _fee_fields(chain)
    nonce = chain.w3.eth.get_transaction_count(sender.address)
    target = "0x" + "11" * 20
    common = {"to": target, "value": 1, "gas": 100_000, "chainId": chain.chain_id}
    unsigned = {
        "0x0": {**common, "gasPrice": fees["max"]},
        "0x1": {
            **common,
            "type": 1,
            "gasPrice": fees["max"],
            "accessList": [{"address": target, "storageKeys": ["0x" + "00" * 32]}],
        },
        "0x2": {
            **common,
            "type": 2,
            "maxFeePerGas": fees["max"],
            "maxPriorityFeePerGas": fees["tip"],
        },
    }
    hashes = {}
    for kind, tx in unsigned.items():
        hashes[kind] = chain.send_signed(sender, {**tx, "nonce": nonce}).tx_hash
        nonce += 1
    authorization = sender.sign_authorization(
        {"chainId": chain.chain_id, "address": "0x" + "33" * 20, "nonce": nonce + 1}
    )
    set_code = {
        **common,
        "type": 4,
        "value": 0,
        "maxFeePerGas": fees["max"],
        "maxPriorityFeePerGas": fees["tip"],
        "authorizationList": [authorization],
        "nonce": nonce,
    }
    hashes["0x4"] = chain.send_signed(sender, set_code).tx_hash
    return Activity(
        registry=ledger.datasets.address,
        dataset_id=DatasetRegistryClient.dataset_id_of(1, keccak(text="rpc")),
        content_hash=content,
        created_tx=receipt.tx_hash,
        created_block=receipt.block_number,
        transactions=hashes,
        sender=sender,
    )
