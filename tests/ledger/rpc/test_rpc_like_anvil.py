"""/rpc over py-evm answers with the same shapes as anvil (a node nobody here wrote): the same
transactions are mined on a fresh eth-tester chain and a fresh anvil, and every object type
is compared key set by key set. The only differences allowed are anvil's additions the spec
does not define (``execution_apis.ANVIL_EXTRAS``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from execution_apis import ANVIL_EXTRAS
from rpc_harness import Rpc
from test_rpc_proof import verify

from ledger.chain.anvil import AnvilNode
from ledger.chain.backend import Chain
from ledger.rpc import RpcServer

TOPIC = "ab" * 32
# Init code: LOG1(topic) over 32 zero bytes, then deploy a contract storing 0x2a at slot 0
# when called (runtime: PUSH1 0x2a PUSH1 0 SSTORE STOP).
EMITTING_INIT = "7f" + TOPIC + "60206000a1" + "6006603260003960066000f3" + "602a60005500"


class Node:
    """Sends the same raw transactions to a chain and reads answers from some JSON-RPC."""

    def __init__(self, chain: Chain, ask: Any) -> None:
        self.chain = chain
        self.ask = ask


@pytest.fixture(scope="module")
def sender() -> LocalAccount:
    return Account.from_key(b"\x42" * 32)


@pytest.fixture(scope="module")
def nodes(request: pytest.FixtureRequest, sender: LocalAccount) -> Iterator[tuple[Node, Node]]:
    if request.config.getoption("--chain") == "anvil":
        pytest.skip("compares a fresh eth-tester chain with a fresh anvil: once is enough")
    local = Chain.eth_tester()
    local.fund(sender.address, 10**21)
    server = RpcServer.for_chain(local)
    with AnvilNode() as anvil_node:
        remote = Chain.rpc(anvil_node.url, expected_chain_id=anvil_node.chain_id)
        remote.fund(sender.address, 10**21)

        def ask_anvil(method: str, *params: Any) -> Any:
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
            return requests.post(anvil_node.url, json=body, timeout=10).json()["result"]

        yield Node(local, Rpc(server)), Node(remote, ask_anvil)
    server.close()


def _mine_the_same(node: Node, sender: LocalAccount) -> dict[str, str]:
    chain = node.chain
    base = int(chain.w3.eth.get_block("latest")["baseFeePerGas"])
    nonce = chain.w3.eth.get_transaction_count(sender.address)
    to = "0x" + "11" * 20
    common = {"gas": 200_000, "chainId": chain.chain_id, "value": 0}
    txs = {
        "legacy": {**common, "to": to, "gasPrice": 2 * base},
        "create": {**common, "data": "0x" + EMITTING_INIT, "gasPrice": 2 * base},
        "access list": {
            **common,
            "to": to,
            "type": 1,
            "gasPrice": 2 * base,
            "accessList": [{"address": to, "storageKeys": ["0x" + "00" * 32]}],
        },
        "dynamic fee": {
            **common,
            "to": to,
            "type": 2,
            "maxFeePerGas": 2 * base,
            "maxPriorityFeePerGas": 1,
        },
    }
    hashes = {}
    for name, tx in txs.items():
        hashes[name] = chain.send_signed(sender, {**tx, "nonce": nonce}).tx_hash
        nonce += 1
    auth = sender.sign_authorization(
        {"chainId": chain.chain_id, "address": "0x" + "33" * 20, "nonce": nonce + 1}
    )
    set_code = {
        **common,
        "to": to,
        "type": 4,
        "maxFeePerGas": 2 * base,
        "maxPriorityFeePerGas": 1,
        "authorizationList": [auth],
        "nonce": nonce,
    }
    hashes["set code"] = chain.send_signed(sender, set_code).tx_hash
    return hashes


def _shape(value: Any, drop: frozenset[str] = frozenset()) -> Any:
    """The key structure of a JSON value: dicts by key set (recursively), lists by first item."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items() if key not in drop}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_the_same_key_sets_as_anvil(nodes: tuple[Node, Node], sender: LocalAccount) -> None:
    ours, anvil = nodes
    mined = {node: _mine_the_same(node, sender) for node in (ours, anvil)}
    for name in mined[ours]:
        for method, drop in (
            ("eth_getTransactionByHash", frozenset()),
            ("eth_getTransactionReceipt", ANVIL_EXTRAS["ReceiptInfo"]),
        ):
            answers = [node.ask(method, mined[node][name]) for node in (ours, anvil)]
            assert _shape(answers[0]) == _shape(answers[1], drop), (name, method)
        hydrated = [
            node.ask(
                "eth_getBlockByHash",
                node.ask("eth_getTransactionByHash", mined[node][name])["blockHash"],
                True,
            )
            for node in (ours, anvil)
        ]
        assert _shape(hydrated[0]) == _shape(hydrated[1], ANVIL_EXTRAS["Block"]), name

    created = {node: node.ask("eth_getTransactionReceipt", mined[node]["create"]) for node in mined}
    for node, receipt in created.items():  # store slot 0, so both storage proofs have a path
        tx = {
            "to": to_checksum_address(receipt["contractAddress"]),
            "gas": 100_000,
            "chainId": node.chain.chain_id,
            "nonce": node.chain.w3.eth.get_transaction_count(sender.address),
            "gasPrice": 2 * int(node.chain.w3.eth.get_block("latest")["baseFeePerGas"]),
        }
        node.chain.send_signed(sender, tx)
    logs = [
        node.ask("eth_getLogs", {"fromBlock": "0x0", "topics": ["0x" + TOPIC]})
        for node in (ours, anvil)
    ]
    assert len(logs[0]) == len(logs[1]) == 1
    assert _shape(logs[0]) == _shape(logs[1])

    proofs = [
        node.ask("eth_getProof", created[node]["contractAddress"], ["0x" + "00" * 32], "latest")
        for node in (ours, anvil)
    ]
    assert _shape(proofs[0]) == _shape(proofs[1])
    for node, proof in zip((ours, anvil), proofs, strict=True):
        # Both list only the nodes stored by hash (embedded ones are inside their parent), and
        # both verify with the same reference code against their own state root.
        assert all(len(bytes.fromhex(n[2:])) >= 32 for n in proof["accountProof"])
        block = node.ask("eth_getBlockByNumber", "latest", False)
        verify(bytes.fromhex(block["stateRoot"][2:]), proof)
    history = [node.ask("eth_feeHistory", "0x2", "latest", [50]) for node in (ours, anvil)]
    assert _shape(history[0]) == _shape(history[1])

    for method in ("eth_chainId", "eth_blockNumber", "eth_gasPrice", "net_version"):
        assert _shape(ours.ask(method)) == _shape(anvil.ask(method)), method
