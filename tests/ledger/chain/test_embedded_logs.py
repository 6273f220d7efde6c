"""``eth_getLogs`` on the embedded chain answers from its log table exactly as eth-tester answers
from the blocks, for any filter; the table holds the logs of exactly the blocks on disk, through
a reopen, a ``kill -9`` and the first start of a chain written before the table existed."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester
from eth_tester.exceptions import BlockNotFound, ValidationError
from eth_tester.utils.filters import check_if_log_matches
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain import embedded
from ledger.chain.deploy import Ledger
from ledger.chain.embedded import DB_FILE_NAME, EmbeddedChain
from ledger.chain.types import ZERO32, Classification, NewVersion

REPO = Path(__file__).resolve().parents[3]


def _key(name: str) -> LocalAccount:
    account: LocalAccount = Account.from_key(keccak(text=f"provledger-test-embedded-logs:{name}"))
    return account


GOV, DEPT, SENDER = _key("governance"), _key("department"), _key("sender")
RICH = {GOV.address: 10**24, DEPT.address: 10**24, SENDER.address: 10**24}
SINK = _key("sink").address

# --- contracts that emit what they are told ---------------------------------------------------
# Hand-assembled, so this test needs no compiler: LOG<k> with topics calldata[0:32k] and data
# calldata[32k:]; and one that emits two logs per call (LOG2, then LOG1).


def _emitter(topics: int) -> bytes:
    code = b"".join(bytes([0x60, 32 * i, 0x35]) for i in reversed(range(topics)))  # CALLDATALOAD
    code += bytes([0x60, 32 * topics, 0x36, 0x03])  # size = CALLDATASIZE - 32k
    code += bytes([0x80, 0x60, 32 * topics, 0x60, 0, 0x37])  # CALLDATACOPY(0, 32k, size)
    return code + bytes([0x60, 0, 0xA0 + topics, 0x00])  # LOGk(0, size, topics…); STOP


_TWO_LOGS = bytes.fromhex("602035600035600060" + "00a2" + "600035600060" + "00a1" + "00")


def _creation_code(runtime: bytes) -> bytes:
    # PUSH1 len DUP1 PUSH1 11 PUSH1 0 CODECOPY PUSH1 0 RETURN, then the runtime code
    return bytes([0x60, len(runtime), 0x80, 0x60, 0x0B, 0x60, 0, 0x39, 0x60, 0, 0xF3]) + runtime


class _Sender:
    """Signs and sends raw transactions from one key, counting its nonce."""

    def __init__(self, chain: EmbeddedChain, account: LocalAccount):
        self.chain, self.account = chain, account
        self.nonce = chain.w3.eth.get_transaction_count(account.address)

    def send(self, to: str | None, data: bytes = b"", gas: int = 200_000) -> Any:
        tx: dict[str, Any] = {
            "value": 0,
            "gas": gas,
            "maxFeePerGas": 2 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "nonce": self.nonce,
            "chainId": self.chain.chain_id,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        signed = self.account.sign_transaction(tx)
        self.nonce += 1
        tx_hash = self.chain.w3.eth.send_raw_transaction(signed.raw_transaction)
        return self.chain.w3.eth.get_transaction_receipt(tx_hash)

    def deploy(self, runtime: bytes) -> str:
        return str(self.send(None, _creation_code(runtime))["contractAddress"])


TOPIC_POOL = [keccak(text=f"topic {i}") for i in range(3)]


class _Fixture:
    def __init__(self, chain: EmbeddedChain, emitters: list[str]):
        self.chain = chain
        self.emitters = emitters  # LOG0 … LOG4, then the two-log one
        self.tester = chain._tester
        self.head = chain.w3.eth.block_number
        # eth-tester's own reading of every log on the chain, block by block (slow: done once).
        self.everything = EthereumTester.get_logs(self.tester, from_block=0, to_block=self.head)


@pytest.fixture(scope="module")
def logs_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Fixture]:
    """~200 blocks: logs with 0 to 4 topics from six contracts, two logs in some transactions,
    blocks without logs (transfers) and failed transactions (whose logs are discarded)."""
    rng = random.Random(1234)
    with EmbeddedChain.open(tmp_path_factory.mktemp("logs"), genesis_accounts=RICH) as chain:
        sender = _Sender(chain, SENDER)
        emitters = [sender.deploy(_emitter(k)) for k in range(5)] + [sender.deploy(_TWO_LOGS)]
        for _ in range(200):
            kind = rng.randrange(10)
            if kind == 0:
                sender.send(SINK, gas=21_000)  # a block without logs
            elif kind == 1:  # too little calldata for LOG4's topics: out of gas, status 0
                assert sender.send(emitters[4], b"\x01" * 40, gas=60_000)["status"] == 0
            else:
                k = rng.randrange(6)
                topics = [rng.choice(TOPIC_POOL) for _ in range(k if k < 5 else 2)]
                data = rng.randbytes(rng.choice((0, 1, 32, 45)))
                sender.send(emitters[k], b"".join(topics) + data)
        yield _Fixture(chain, emitters)


# --- the oracle ----------------------------------------------------------------------------------


def _expected(fx: _Fixture, query: dict[str, Any]) -> list[Any]:
    """What eth-tester's get_logs returns for ``query``, by eth-tester's own matching function
    over its own reading of the chain, with the JSON-RPC range and empty-list rules that the
    embedded chain documents (see ``_SerialisedTester.get_logs``)."""
    tester = fx.tester
    _, _, addresses, topics = tester.normalizer.normalize_inbound_filter_params(
        from_block=None,
        to_block=None,
        address=query.get("address"),
        topics=query.get("topics"),
    )

    def number(block: Any) -> int:
        if isinstance(block, int):
            return block
        return {"earliest": 0, "pending": fx.head + 1}.get(block, fx.head)

    first, last = number(query.get("from_block")), min(number(query.get("to_block")), fx.head)
    if addresses == ():
        addresses = None  # geth: an empty list is no constraint
    if topics is not None:
        topics = tuple(None if spec == () else spec for spec in topics)
    matching = []
    for log in fx.everything:
        raw = tester.normalizer.normalize_inbound_log_entry(log)
        if check_if_log_matches(raw, first, last, addresses, topics):
            matching.append({**log, "removed": False})
    return matching


@st.composite
def _filters(draw: st.DrawFn, emitters: list[str]) -> dict[str, Any]:
    block = st.one_of(
        st.none(),
        st.sampled_from(["earliest", "latest", "pending", "safe", "finalized"]),
        st.integers(min_value=0, max_value=215),
    )
    stranger = "0x" + "ab" * 20
    address = st.sampled_from([*emitters, stranger]).flatmap(
        lambda a: st.sampled_from([a, a.lower()])
    )
    topic = st.sampled_from([*TOPIC_POOL, keccak(text="never emitted")]).map(
        lambda t: "0x" + t.hex()
    )
    position = st.one_of(st.none(), topic, st.lists(st.one_of(st.none(), topic), max_size=3))
    query: dict[str, Any] = {}
    for key, value in (
        ("from_block", block),
        ("to_block", block),
        ("address", st.one_of(address, st.lists(address, max_size=3))),
        ("topics", st.lists(position, max_size=5)),
    ):
        if draw(st.booleans()):
            query[key] = draw(value)
    return query


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_any_filter_gets_the_logs_eth_tester_finds_in_the_blocks(
    logs_chain: _Fixture, data: st.DataObject
) -> None:
    query = data.draw(_filters(logs_chain.emitters))
    assert list(logs_chain.tester.get_logs(**query)) == _expected(logs_chain, query), query


def test_the_chain_under_test_has_what_the_filters_need(logs_chain: _Fixture) -> None:
    logs = logs_chain.everything
    assert len(logs) >= 150
    assert {len(log["topics"]) for log in logs} == {0, 1, 2, 3, 4}
    assert any(log["log_index"] == 1 for log in logs)  # two logs in one transaction
    statuses = {
        logs_chain.chain.w3.eth.get_transaction_receipt(tx)["status"]
        for n in range(1, logs_chain.head + 1)
        for tx in logs_chain.chain.w3.eth.get_block(n)["transactions"]
    }
    assert statuses == {0, 1}


@pytest.mark.parametrize(
    "query",
    [
        {"from_block": 0, "to_block": "latest"},
        {"from_block": 20, "to_block": 60, "topics": [None, "0x" + TOPIC_POOL[1].hex()]},
        {"from_block": 0, "topics": [["0x" + TOPIC_POOL[0].hex(), "0x" + TOPIC_POOL[2].hex()]]},
        {"from_block": 0, "topics": [None, None, None, None]},  # only logs with four topics
        {"from_block": 100, "to_block": 100},
        {"from_block": 50, "to_block": 40},
    ],
)
def test_eth_testers_own_get_logs_agrees(logs_chain: _Fixture, query: dict[str, Any]) -> None:
    query = {**query, "address": logs_chain.emitters[2:]}
    ours = logs_chain.tester.get_logs(**query)
    assert [{k: v for k, v in log.items() if k != "removed"} for log in ours] == list(
        EthereumTester.get_logs(logs_chain.tester, **query)
    )


def test_json_rpc_callers_get_the_same_logs_with_hex_parameters(logs_chain: _Fixture) -> None:
    w3 = logs_chain.chain.w3
    topic = "0x" + TOPIC_POOL[0].hex()
    params = {"fromBlock": "0xa", "toBlock": "latest", "topics": [topic]}
    raw = w3.manager.request_blocking("eth_getLogs", [params])
    typed = w3.eth.get_logs({"fromBlock": 10, "toBlock": "latest", "topics": [topic]})
    expected = _expected(logs_chain, {"from_block": 10, "topics": [topic]})
    assert len(raw) == len(typed) == len(expected) > 0
    for one, two, want in zip(raw, typed, expected, strict=True):
        assert (one["blockNumber"], one["logIndex"], one["removed"]) == (
            two["blockNumber"],
            two["logIndex"],
            False,
        )
        assert (two["blockNumber"], two["logIndex"]) == (want["block_number"], want["log_index"])
        assert HexBytes(two["topics"][0]) == TOPIC_POOL[0]
        assert HexBytes(two["transactionHash"]) == HexBytes(want["transaction_hash"])


def test_a_block_hash_filter_gets_that_blocks_logs(logs_chain: _Fixture) -> None:
    w3, tester = logs_chain.chain.w3, logs_chain.tester
    two_logs = next(log for log in logs_chain.everything if log["log_index"] == 1)
    number, block_hash = two_logs["block_number"], two_logs["block_hash"]
    expected = _expected(logs_chain, {"from_block": number, "to_block": number})
    assert len(expected) == 2
    assert list(tester.get_logs(block_hash=block_hash)) == expected
    raw = w3.manager.request_blocking("eth_getLogs", [{"blockHash": block_hash}])
    assert [(log["blockNumber"], log["logIndex"]) for log in raw] == [(number, 0), (number, 1)]
    with pytest.raises(BlockNotFound):
        tester.get_logs(block_hash="0x" + "00" * 32)
    with pytest.raises(ValidationError, match="blockHash excludes"):
        tester.get_logs(block_hash=block_hash, from_block=0)


def test_a_malformed_filter_is_refused(logs_chain: _Fixture) -> None:
    with pytest.raises(ValidationError):
        logs_chain.tester.get_logs(from_block=0, topics=["0x1234"])
    with pytest.raises(ValidationError):
        logs_chain.tester.get_logs(from_block=0, address="0xnot-an-address")


# --- durability ----------------------------------------------------------------------------------


def _all_logs(chain: EmbeddedChain) -> list[Any]:
    return list(chain._tester.get_logs(from_block=0, to_block="latest"))


def _from_the_blocks(chain: EmbeddedChain) -> list[Any]:
    """Every log as eth-tester reads it from the blocks and receipts."""
    logs = EthereumTester.get_logs(chain._tester, from_block=0, to_block=chain.w3.eth.block_number)
    return [{**log, "removed": False} for log in logs]


def test_contract_events_come_back_after_a_reopen(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        ledger = Ledger.deploy(chain, GOV)
        ledger.departments.enrol_department(1, "Department of Health", DEPT.address, sender=GOV)
        content = keccak(text="v1")
        ledger.datasets.create_dataset(
            keccak(text="salt"), Classification.PUBLIC, ZERO32, NewVersion(content), sender=DEPT
        )
        before = _all_logs(chain)
        deployment = ledger.deployment
    assert len(before) >= 3
    with EmbeddedChain.open(tmp_path) as chain:
        assert _all_logs(chain) == before == _from_the_blocks(chain)
        (event,) = Ledger(chain, deployment).datasets.registrations_of(content)
        assert event.name == "VersionAdded"


def test_a_chain_from_before_the_log_table_gets_it_on_first_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        sender = _Sender(chain, SENDER)
        emitter = sender.deploy(_emitter(2))
        for i in range(20):
            sender.send(emitter, TOPIC_POOL[i % 3] * 2 + bytes([i]))
        before = _all_logs(chain)
    with sqlite3.connect(tmp_path / DB_FILE_NAME) as db:  # what an older version left behind
        db.execute("DROP TABLE logs")
        db.execute("DELETE FROM kv WHERE k = ?", (b"provledger:logs-through",))
    db.close()
    monkeypatch.setattr(embedded, "_CATCH_UP_BLOCKS", 7)  # several commits, not one
    with EmbeddedChain.open(tmp_path) as chain:
        assert _all_logs(chain) == before
        assert len(before) == 20


def test_the_files_hold_each_blocks_logs_by_the_time_its_send_returns(tmp_path: Path) -> None:
    # A copy of the files taken while the chain runs is what kill -9 would leave behind.
    live, copy = tmp_path / "live", tmp_path / "copy"
    with EmbeddedChain.open(live, genesis_accounts=RICH) as chain:
        sender = _Sender(chain, SENDER)
        emitter = sender.deploy(_emitter(1))
        for i in range(3):
            receipt = sender.send(emitter, keccak(text=f"log {i}"))
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(live, copy)
            with EmbeddedChain.open(copy) as crashed:
                logs = _all_logs(crashed)
                assert logs == _from_the_blocks(crashed)
                assert logs[-1]["transaction_hash"] == receipt["transactionHash"].to_0x_hex()


_CHILD = """
import sys
from pathlib import Path
from eth_account import Account
from ledger.chain.embedded import EmbeddedChain

sender = Account.from_key(bytes.fromhex(sys.argv[2]))
chain = EmbeddedChain.open(Path(sys.argv[1]))
nonce = chain.w3.eth.get_transaction_count(sender.address)
print("ready", flush=True)
while True:
    tx = {"to": sys.argv[3], "value": 0, "gas": 100000, "maxFeePerGas": 2 * 10**9,
          "maxPriorityFeePerGas": 10**9, "nonce": nonce, "chainId": chain.chain_id,
          "data": nonce.to_bytes(32, "big")}
    receipt = chain.send_signed(sender, tx)
    print(receipt.tx_hash, receipt.block_number, flush=True)  # acknowledged
    nonce += 1
"""


def test_after_kill_9_the_log_table_matches_the_blocks_and_keeps_every_acknowledged_log(
    tmp_path: Path,
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    data_dir, script = tmp_path / "chain", tmp_path / "child.py"
    with EmbeddedChain.open(data_dir, genesis_accounts=RICH) as chain:
        emitter = _Sender(chain, SENDER).deploy(_emitter(1))
    script.write_text(textwrap.dedent(_CHILD))
    acknowledged: list[tuple[str, int]] = []
    for _round in range(2):
        child = subprocess.Popen(
            [sys.executable, str(script), str(data_dir), SENDER.key.hex(), emitter],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        kill_at = time.monotonic() + rng.uniform(0.3, 1.2)
        while time.monotonic() < kill_at:
            tx_hash, number = child.stdout.readline().split()
            acknowledged.append((tx_hash, int(number)))
        time.sleep(rng.uniform(0, 0.03))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()

    assert len(acknowledged) > 5, f"seed {seed}: the child acknowledged too little to judge"
    with EmbeddedChain.open(data_dir) as chain:
        logs = _all_logs(chain)
        assert logs == _from_the_blocks(chain), f"seed {seed}"
        by_tx = {log["transaction_hash"]: log["block_number"] for log in logs}
        for tx_hash, block in acknowledged:
            assert by_tx[tx_hash] == block, f"seed {seed}"
