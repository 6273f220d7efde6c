"""/rpc over the durable embedded chain (what ``make run`` serves): logs come from its indexed
log table, bounded with ``LIMIT``; calls read its SQLite store through the worker; answers keep
the spec's shape and its proofs verify."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from execution_apis import validate
from rpc_harness import GAS_LEFT, Rpc
from test_rpc_proof import verify

from ledger.chain.embedded import EmbeddedChain
from ledger.rpc import RpcLimits, RpcServer

TOPIC_A, TOPIC_B = "aa" * 32, "bb" * 32


def _emitter(topic: str) -> str:
    """Init code of a contract that, when called, logs LOG2(topic, calldata word 0) and stops."""
    runtime = "6000357f" + topic + "60206000a200"
    size = len(runtime) // 2
    return f"60{size:02x}600c60003960{size:02x}6000f3" + runtime


class Embedded:
    def __init__(self, chain: EmbeddedChain, sender: LocalAccount) -> None:
        self.chain = chain
        self.sender = sender
        self.nonce = 0

    def send(self, **tx: object) -> str:
        full = {"nonce": self.nonce, "chainId": self.chain.chain_id, "gasPrice": 10**10, **tx}
        self.nonce += 1
        receipt = self.chain.send_signed(self.sender, full)
        return str(receipt.contract_address or receipt.tx_hash)


@pytest.fixture(scope="module")
def embedded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Embedded, Rpc, list[str]]]:
    if request.config.getoption("--chain") == "anvil":
        pytest.skip("runs its own embedded chain: once is enough")
    chain = EmbeddedChain.open(tmp_path_factory.mktemp("embedded"), synchronous="NORMAL")
    sender = Account.from_key(b"\x07" * 32)
    chain.fund(sender.address, 10**21)
    node = Embedded(chain, sender)
    emitters = [node.send(data="0x" + _emitter(t), gas=200_000) for t in (TOPIC_A, TOPIC_B)]
    for n in range(6):  # six blocks, alternating emitters, word n as the second topic
        node.send(to=emitters[n % 2], data="0x" + f"{n:064x}", gas=100_000)
    server = RpcServer.for_chain(chain, RpcLimits(max_logs=4))
    yield node, Rpc(server), emitters
    server.close()
    chain.close()


def test_logs_from_the_log_table(embedded: tuple[Embedded, Rpc, list[str]]) -> None:
    _, rpc, emitters = embedded
    word = "0x" + f"{3:064x}"
    cases = [
        ({"fromBlock": "0x0", "address": emitters[0]}, 3),
        ({"fromBlock": "0x0", "address": emitters, "topics": [None, word]}, 1),
        ({"fromBlock": "0x0", "topics": [["0x" + TOPIC_B, "0x" + "cc" * 32], [word, None]]}, 3),
        ({"fromBlock": "earliest", "toBlock": "latest", "topics": ["0x" + TOPIC_A, word]}, 0),
    ]
    for log_filter, count in cases:
        logs = rpc("eth_getLogs", log_filter)
        validate("eth_getLogs", logs)
        assert len(logs) == count, log_filter
    one = rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [None, word]})[0]
    assert rpc("eth_getLogs", {"blockHash": one["blockHash"]}) == [one]
    block = rpc("eth_getBlockByHash", one["blockHash"], False)
    assert one["blockTimestamp"] == block["timestamp"]


def test_too_many_logs_name_a_range_that_fits(embedded: tuple[Embedded, Rpc, list[str]]) -> None:
    _, rpc, _ = embedded
    error = rpc.error("eth_getLogs", {"fromBlock": "0x0"})
    assert error["code"] == -32005
    assert error["message"].startswith("query returned more than 4 results. Try with this")
    fitting = error["message"].split("[")[1].rstrip("].").split(", ")
    assert len(rpc("eth_getLogs", {"fromBlock": fitting[0], "toBlock": fitting[1]})) <= 4


def test_calls_blocks_and_proofs(embedded: tuple[Embedded, Rpc, list[str]]) -> None:
    node, rpc, _ = embedded
    assert int(rpc("eth_call", {"input": GAS_LEFT}), 16) > 0
    latest = rpc("eth_getBlockByNumber", "latest", True)
    validate("eth_getBlockByNumber", latest)
    receipt = rpc("eth_getTransactionReceipt", latest["transactions"][0]["hash"])
    validate("eth_getTransactionReceipt", receipt)
    proof = rpc("eth_getProof", node.sender.address, ["0x0"], latest["number"])
    verify(bytes.fromhex(latest["stateRoot"][2:]), proof)
    assert int(proof["nonce"], 16) == node.nonce
    # The worker may read hashes only: the chain's own keys (the faucet's) stay out of reach.
    assert rpc.server.backend.source.read_node(b"provledger:faucet-key") is None  # type: ignore[attr-defined]


def test_the_chain_id_is_the_embedded_one(embedded: tuple[Embedded, Rpc, list[str]]) -> None:
    node, rpc, _ = embedded
    assert int(rpc("eth_chainId"), 16) == node.chain.chain_id
    assert rpc("net_version") == str(node.chain.chain_id)
