"""Every method /rpc serves answers as ethereum/execution-apis specifies, on either backend:
py-evm read directly (eth-tester) or a node forwarded to (``--chain=anvil``)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak
from execution_apis import (
    RECEIPT_KEYS,
    TRANSACTION_KEYS,
    validate,
    validate_as,
    without_anvil_extras,
)
from rpc_harness import Activity, Rpc

from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.rpc import RpcLimits, RpcServer

VERSION_ADDED = (
    "0x"
    + keccak(
        text="VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
    ).hex()
)


def checked(rpc: Rpc, method: str, *params: Any) -> Any:
    """The result, validated against the spec (a node's own extras aside: they pass through)."""
    result = rpc(method, *params)
    if rpc.forwarded:
        result = without_anvil_extras(method, result)
    validate(method, result)
    return result


def test_the_simple_methods(rpc: Rpc, chain: Chain) -> None:
    assert checked(rpc, "eth_chainId") == hex(chain.chain_id)
    checked(rpc, "net_version")
    checked(rpc, "web3_clientVersion")
    assert int(checked(rpc, "eth_blockNumber"), 16) == chain.w3.eth.block_number
    checked(rpc, "eth_gasPrice")
    checked(rpc, "eth_maxPriorityFeePerGas")


def test_blocks_with_and_without_transactions(rpc: Rpc, activity: Activity) -> None:
    latest = checked(rpc, "eth_getBlockByNumber", "latest", False)
    assert len(latest["logsBloom"]) == 2 + 512  # 256 bytes, not a number
    by_hash = checked(rpc, "eth_getBlockByHash", latest["hash"], False)
    assert by_hash == latest
    created = checked(rpc, "eth_getBlockByNumber", hex(activity.created_block), True)
    (tx,) = created["transactions"]
    assert tx["hash"] == activity.created_tx
    assert set(tx) == TRANSACTION_KEYS[tx["type"]]
    assert int(created["logsBloom"], 16) != 0
    for tag in ("earliest", "safe", "finalized"):
        checked(rpc, "eth_getBlockByNumber", tag, True)
    assert checked(rpc, "eth_getBlockByNumber", hex(10**9), False) is None
    assert checked(rpc, "eth_getBlockByHash", "0x" + "00" * 32, True) is None


def test_every_transaction_type_and_its_receipt(rpc: Rpc, activity: Activity) -> None:
    for kind, tx_hash in activity.transactions.items():
        tx = checked(rpc, "eth_getTransactionByHash", tx_hash)
        assert tx["type"] == kind
        assert set(tx) == TRANSACTION_KEYS[kind], kind
        receipt = checked(rpc, "eth_getTransactionReceipt", tx_hash)
        assert set(receipt) == RECEIPT_KEYS, kind
        assert receipt["type"] == kind and receipt["status"] == "0x1"
        assert len(receipt["logsBloom"]) == 2 + 512
        block = checked(rpc, "eth_getBlockByHash", receipt["blockHash"], True)
        assert tx in block["transactions"]
    receipt = checked(rpc, "eth_getTransactionReceipt", activity.created_tx)
    assert receipt["logs"] and receipt["to"] == activity.registry.lower()
    missing = "0x" + "de" * 32
    assert checked(rpc, "eth_getTransactionByHash", missing) is None
    assert checked(rpc, "eth_getTransactionReceipt", missing) is None


def test_logs_by_topic_with_the_filters_tools_send(rpc: Rpc, activity: Activity) -> None:
    content = "0x" + activity.content_hash.hex()
    dataset = "0x" + activity.dataset_id.hex()
    filters = [
        {"fromBlock": "0x0", "address": activity.registry, "topics": [VERSION_ADDED]},
        {"fromBlock": "earliest", "address": [activity.registry], "topics": [None, None, content]},
        {"fromBlock": "0x0", "topics": [[VERSION_ADDED, "0x" + "00" * 32], dataset, [content]]},
        {"fromBlock": "0x0", "topics": [VERSION_ADDED, [dataset, None]]},
        {"blockHash": rpc("eth_getTransactionReceipt", activity.created_tx)["blockHash"]},
    ]
    for log_filter in filters:
        logs = checked(rpc, "eth_getLogs", log_filter)
        added = [log for log in logs if log["topics"][0] == VERSION_ADDED]
        assert len(added) == 1, log_filter
        assert added[0]["topics"][2] == content
        assert added[0]["transactionHash"] == activity.created_tx
    assert (
        checked(rpc, "eth_getLogs", {"fromBlock": "0x0", "topics": [None, None, "0x" + "ab" * 32]})
        == []
    )


def test_log_ranges_are_checked_and_answers_bounded(
    rpc: Rpc, activity: Activity, chain: Chain
) -> None:
    head = chain.w3.eth.block_number
    beyond = rpc.response("eth_getLogs", {"fromBlock": hex(head), "toBlock": hex(head + 10)})
    if not rpc.forwarded:  # geth's rule here; a node forwarded to applies its own (anvil: [])
        assert beyond["error"] == {
            "code": -32602,
            "message": "block range extends beyond current head block",
        }
    assert rpc.error("eth_getLogs", {"fromBlock": "0x5", "toBlock": "0x1"})["code"] == -32602
    small = RpcServer.for_chain(chain, RpcLimits(max_logs=1))
    try:
        error = Rpc(small).error("eth_getLogs", {"fromBlock": "0x0"})
    finally:
        small.close()
    assert error["code"] == -32005
    assert "more than 1 results" in error["message"]


def test_calls_like_geth(rpc: Rpc, activity: Activity) -> None:
    registry = activity.registry
    selector = keccak(text="dataset(bytes32)")[:4]
    data = "0x" + (selector + activity.dataset_id).hex()
    for call in (
        {"to": registry, "data": data},
        {"to": registry, "input": data},
        {"to": registry, "input": data, "data": data},
        {"to": registry, "input": data, "from": "0x" + "00" * 20},
        {"to": registry, "input": data, "from": "0x" + "ab" * 20},  # no balance at all
    ):
        result = checked(rpc, "eth_call", call, "latest")
        owner = abi_decode(["uint64"], bytes.fromhex(result[2:])[:32])[0]
        assert owner == 1, call
    # Every form of block reference; a node forwarded to (anvil) may have let go of older
    # states after the suite's snapshot reverts, so there the head's block stands in.
    block = hex(activity.created_block) if not rpc.forwarded else rpc("eth_blockNumber")
    block_hash = rpc("eth_getBlockByNumber", block, False)["hash"]
    for ref in (block, {"blockNumber": block}, {"blockHash": block_hash}, block_hash):
        assert checked(rpc, "eth_call", {"to": registry, "input": data}, ref) == result
    if not rpc.forwarded:
        before = rpc("eth_call", {"to": registry, "input": data}, hex(activity.created_block - 1))
        assert before != result  # no such dataset yet: the view returns zeros


def test_reverts_carry_their_data(rpc: Rpc, ledger: Ledger) -> None:
    datasets = ledger.datasets
    not_a_department = datasets.contract.encode_abi(
        "addVersion", ["0x" + "11" * 32, ("0x" + "22" * 32, "0x" + "00" * 32, [])]
    )
    error = rpc.error("eth_call", {"to": datasets.address, "input": not_a_department})
    assert error["code"] == 3
    selector = keccak(text="DepartmentUnknownSigner(address)")[:4].hex()
    assert error["data"].startswith("0x" + selector)
    # Init code that reverts with Error("boom"): the reason joins the message, as on geth.
    reason = bytes.fromhex("08c379a0") + abi_encode(["string"], ["boom"])
    init = "0x60" + f"{len(reason):02x}" + "80600b6000396000fd" + reason.hex()
    error = rpc.error("eth_call", {"input": init})
    assert error["code"] == 3
    assert error["message"] == "execution reverted: boom"
    assert error["data"] == "0x" + reason.hex()


def test_state_reads(rpc: Rpc, activity: Activity) -> None:
    sender = activity.sender.address
    assert int(checked(rpc, "eth_getBalance", sender), 16) > 0
    assert int(checked(rpc, "eth_getTransactionCount", sender, "latest"), 16) >= 4
    code = checked(rpc, "eth_getCode", activity.registry, "latest")
    assert len(code) > 100
    if not rpc.forwarded:  # anvil may have let go of old states (see test_calls_like_geth)
        assert checked(rpc, "eth_getCode", activity.registry, "earliest") == "0x"
    slot = checked(rpc, "eth_getStorageAt", activity.registry, "0x0", "latest")
    assert len(slot) == 66


def test_fee_history(rpc: Rpc, activity: Activity) -> None:
    history = checked(rpc, "eth_feeHistory", "0x4", "latest", [10, 50, 90])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert len(history["reward"]) == len(history["gasUsedRatio"])
    checked(rpc, "eth_feeHistory", 2, "latest")
    assert rpc.error("eth_feeHistory", "0x401", "latest", [])["code"] == -32602


def test_get_proof_answers_the_spec_shape(rpc: Rpc, activity: Activity) -> None:
    proof = checked(rpc, "eth_getProof", activity.registry, ["0x0", "0x" + "00" * 31 + "01"])
    validate_as("AccountProof", proof)
    assert [entry["key"] for entry in proof["storageProof"]] == ["0x0", "0x" + "00" * 31 + "01"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": ["x"]}, -32600),
        ({}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": {"a": 1}}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": 5}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"a": 1}]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x00"]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": []}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": []}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "method": "debug_traceCall", "params": []}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [{"address": 5}]}, -32602),
    ],
)
def test_malformed_requests_get_json_rpc_errors_without_python_text(
    rpc: Rpc, body: Any, code: int
) -> None:
    answer = rpc.raw(body)
    assert answer["error"]["code"] == code
    message = answer["error"]["message"]
    for python in ("Traceback", "object has no attribute", "Error:", "'list'", "NoneType"):
        assert python not in message


def test_batches_and_notifications(rpc: Rpc) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber"} for i in range(3)]
    batch.append({"jsonrpc": "2.0", "method": "eth_blockNumber"})  # a notification
    batch.append(1)  # not a request
    answers = rpc.raw(batch)
    assert [a["id"] for a in answers] == [0, 1, 2, None]
    assert answers[-1]["error"]["code"] == -32600
    assert rpc.raw({"jsonrpc": "2.0", "method": "eth_chainId"}) is None
    assert rpc.raw([])["error"]["code"] == -32600
    assert rpc.raw("[" * 100_000)["error"]["code"] == -32700
