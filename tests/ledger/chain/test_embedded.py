"""The embedded chain keeps every acknowledged record: across a clean restart, across
``kill -9``, under concurrent use; its chain id is fixed and its block time only moves forward."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from ledger.chain.backend import Receipt
from ledger.chain.deploy import Ledger
from ledger.chain.embedded import (
    DB_FILE_NAME,
    EMBEDDED_CHAIN_ID,
    EmbeddedChain,
    SQLiteKeyValueStore,
)
from ledger.chain.types import ZERO32, Classification, NewVersion
from ledger.errors import (
    ChainMismatchError,
    ChainUnavailableError,
    DatasetUnknownError,
    InvalidAccountNonceError,
)

REPO = Path(__file__).resolve().parents[3]


def _key(name: str) -> LocalAccount:
    account: LocalAccount = Account.from_key(keccak(text=f"provledger-test-embedded:{name}"))
    return account


GOV, DEPT, SENDER = _key("governance"), _key("department"), _key("sender")
RICH = {GOV.address: 10**24, DEPT.address: 10**24, SENDER.address: 10**24}
SINK = _key("sink").address  # any plain account; low addresses are precompiles


def _transfer(chain: EmbeddedChain, sender: LocalAccount, nonce: int, value: int = 1) -> Receipt:
    tx = {
        "to": SINK,
        "value": value,
        "gas": 21_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "nonce": nonce,
        "chainId": chain.chain_id,
    }
    return chain.send_signed(sender, tx)


def _block_times(chain: EmbeddedChain) -> list[int]:
    head = chain.w3.eth.block_number
    return [int(chain.w3.eth.get_block(n)["timestamp"]) for n in range(head + 1)]


# --- the store ---------------------------------------------------------------------------------


def test_the_store_reads_its_buffer_first_and_writes_only_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite3"
    store = SQLiteKeyValueStore(path)
    store[b"a"] = b"1"
    store[b"b"] = b"2"
    assert store[b"a"] == b"1"
    store.flush()
    del store[b"a"]
    store[b"c"] = b"3"
    assert b"a" not in store
    assert store[b"c"] == b"3"
    store.close(flush=False)  # as if the process died before the next block was committed

    reopened = SQLiteKeyValueStore(path)
    assert reopened[b"a"] == b"1"  # the delete was never committed
    assert b"c" not in reopened
    with pytest.raises(KeyError):
        del reopened[b"missing"]
    reopened.close()


def test_a_data_directory_cannot_be_opened_twice(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path), pytest.raises(ChainUnavailableError, match="in use"):
        EmbeddedChain.open(tmp_path)


# --- restart -----------------------------------------------------------------------------------


def test_everything_survives_a_clean_close_and_reopen(tmp_path: Path) -> None:
    salt, content = keccak(text="salt"), keccak(text="content v1")
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        ledger = Ledger.deploy(chain, GOV)
        ledger.departments.enrol_department(1, "Department of Health", DEPT.address, sender=GOV)
        created = ledger.datasets.create_dataset(
            salt,
            Classification.RESTRICTED,
            keccak(text="metadata"),
            NewVersion(content_hash=content),
            sender=DEPT,
        )
        dataset_id = ledger.datasets.dataset_id_of(1, salt)
        before = ledger.datasets.dataset(dataset_id)
        head = chain.w3.eth.block_number
        nonces = {a.address: chain.w3.eth.get_transaction_count(a.address) for a in (GOV, DEPT)}
        deployment = ledger.deployment

    assert [p.name for p in tmp_path.iterdir()] == [DB_FILE_NAME]  # the WAL is gone

    with EmbeddedChain.open(tmp_path, genesis_accounts={}) as chain:
        ledger = Ledger(chain, deployment)
        assert chain.w3.eth.block_number == head
        assert ledger.datasets.dataset(dataset_id) == before
        assert ledger.departments.department(1).signer == DEPT.address
        (event,) = ledger.datasets.registrations_of(content)  # eth_getLogs from block 0
        assert event.tx_hash == created.tx_hash
        assert chain.w3.eth.get_transaction_receipt(HexBytes(created.tx_hash))["status"] == 1
        for address, nonce in nonces.items():
            assert chain.w3.eth.get_transaction_count(address) == nonce
        added = ledger.datasets.add_version(
            dataset_id, NewVersion(content_hash=keccak(text="content v2")), sender=DEPT
        )
        assert added.block_number == head + 1
        assert ledger.datasets.dataset(dataset_id).version_count == 2


def test_contracts_behave_as_on_any_chain_gas_estimates_and_errors_included(
    tmp_path: Path,
) -> None:
    relayer = _key("relayer")
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        chain.fund(relayer.address, 10**20)  # from the faucet generated at genesis
        ledger = Ledger.deploy(chain, GOV)
        ledger.departments.enrol_department(1, "Department of Health", DEPT.address, sender=GOV)
        salt = keccak(text="salt")
        first = NewVersion(content_hash=keccak(text="v1"))
        ledger.datasets.create_dataset(salt, Classification.PUBLIC, ZERO32, first, sender=DEPT)
        dataset_id = ledger.datasets.dataset_id_of(1, salt)
        # By signature, through a relayer: nested calls (registry, ecrecover) under EIP-150's
        # 63/64 rule, where an estimate of just the gas used would run out.
        version = NewVersion(content_hash=keccak(text="v2"))
        auth = ledger.datasets.sign_add_version(
            dataset_id, version, signer=DEPT, department_id=1, deadline=chain.block_time() + 600
        )
        ledger.datasets.add_version_by_sig(dataset_id, version, auth=auth, sender=relayer)
        assert ledger.datasets.dataset(dataset_id).version_count == 2
        with pytest.raises(DatasetUnknownError):
            ledger.datasets.add_version(keccak(text="no such dataset"), version, sender=DEPT)
        with pytest.raises(InvalidAccountNonceError):  # the same signature, replayed
            ledger.datasets.add_version_by_sig(dataset_id, version, auth=auth, sender=relayer)


def test_get_logs_answers_for_contract_events_as_eth_tester_does(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        ledger = Ledger.deploy(chain, GOV)
        ledger.departments.enrol_department(1, "Department of Health", DEPT.address, sender=GOV)
        for name in ("a", "b"):
            first = NewVersion(content_hash=keccak(text=f"{name}0"))
            salt = keccak(text=name)
            ledger.datasets.create_dataset(salt, Classification.PUBLIC, ZERO32, first, sender=DEPT)
            _transfer(chain, SENDER, chain.w3.eth.get_transaction_count(SENDER.address))
            ledger.datasets.add_version(
                ledger.datasets.dataset_id_of(1, salt),
                NewVersion(content_hash=keccak(text=f"{name}1")),
                sender=DEPT,
            )
        datasets, departments = ledger.datasets.address, ledger.departments.address
        content = "0x" + keccak(text="b1").hex()
        topic0 = "0x" + keccak(text="nothing(uint256)").hex()
        queries: list[dict[str, Any]] = [
            {},
            {"from_block": 0, "to_block": "latest"},
            {"from_block": 0, "address": datasets},
            {"from_block": 3, "to_block": 9, "address": [datasets, departments]},
            {"from_block": 0, "topics": [None, None, content]},
            {"from_block": 0, "address": datasets, "topics": [None, None, [content, topic0]]},
            {"from_block": 0, "topics": [topic0]},
            {"from_block": 0, "address": SINK},
            {"from_block": 5, "to_block": 5},
        ]
        tester = chain._tester
        for query in queries:
            ours = [
                {k: v for k, v in log.items() if k != "removed"} for log in tester.get_logs(**query)
            ]
            assert ours == list(EthereumTester.get_logs(tester, **query)), query
        assert len(tester.get_logs(from_block=0, topics=[None, None, content])) == 1
        # "earliest" is block 0 (eth-tester's own get_logs matches only pending logs with it).
        everything = tester.get_logs(from_block=0, address=datasets)
        assert tester.get_logs(from_block="earliest", address=datasets) == everything


def test_a_durable_chain_refuses_to_rewind(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        snapshot = chain.snapshot()
        _transfer(chain, SENDER, 0)
        with pytest.raises(NotImplementedError, match="never rewinds"):
            chain.revert(snapshot)
        assert chain.w3.eth.block_number == 1


# --- kill -9 -----------------------------------------------------------------------------------

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
    tx = {"to": sys.argv[3], "value": 1, "gas": 21000, "maxFeePerGas": 2 * 10**9,
          "maxPriorityFeePerGas": 10**9, "nonce": nonce, "chainId": chain.chain_id}
    receipt = chain.send_signed(sender, tx)
    print(receipt.tx_hash, receipt.block_number, flush=True)  # acknowledged
    nonce += 1
"""


def test_every_acknowledged_transaction_survives_kill_9(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    data_dir, script = tmp_path / "chain", tmp_path / "child.py"
    EmbeddedChain.open(data_dir, genesis_accounts=RICH).close()
    script.write_text(textwrap.dedent(_CHILD))
    acknowledged: list[tuple[str, int]] = []
    for _round in range(3):  # later rounds start from a chain recovered after a kill
        child = subprocess.Popen(
            [sys.executable, str(script), str(data_dir), SENDER.key.hex(), SINK],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        kill_at = time.monotonic() + rng.uniform(0.3, 1.5)
        while time.monotonic() < kill_at:
            tx_hash, number = child.stdout.readline().split()
            acknowledged.append((tx_hash, int(number)))
        # Just after an acknowledgement, or up to two transactions later: somewhere in a send,
        # an EVM run, a commit, or between them.
        time.sleep(rng.uniform(0, 0.03))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()

    assert len(acknowledged) > 5, f"seed {seed}: the child acknowledged too little to judge"
    with sqlite3.connect(data_dir / DB_FILE_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",), f"seed {seed}"
    db.close()
    with EmbeddedChain.open(data_dir) as chain:
        assert chain.w3.eth.block_number >= acknowledged[-1][1], f"seed {seed}"
        for tx_hash, block in acknowledged:
            receipt = chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            assert (receipt["blockNumber"], receipt["status"]) == (block, 1), f"seed {seed}"
        # The chain goes on from the recovered head, nonce and all.
        nonce = chain.w3.eth.get_transaction_count(SENDER.address)
        assert nonce >= len(acknowledged)
        assert _transfer(chain, SENDER, nonce).block_number == chain.w3.eth.block_number


def test_the_files_hold_each_transaction_by_the_time_its_send_returns(tmp_path: Path) -> None:
    # A copy of the files taken while the chain runs is what kill -9 would leave behind.
    live, copy = tmp_path / "live", tmp_path / "copy"
    with EmbeddedChain.open(live, genesis_accounts=RICH) as chain:
        for nonce in range(3):
            receipt = _transfer(chain, SENDER, nonce)
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(live, copy)
            with EmbeddedChain.open(copy) as crashed:
                assert crashed.w3.eth.block_number == receipt.block_number
                assert crashed.w3.eth.get_transaction_receipt(HexBytes(receipt.tx_hash))


# --- chain id and time -------------------------------------------------------------------------


def test_the_chain_id_is_fixed_and_binds_signatures(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path / "one", genesis_accounts=RICH) as one:
        assert one.chain_id == one.w3.eth.chain_id == EMBEDDED_CHAIN_ID
        assert one.w3.net.version == str(EMBEDDED_CHAIN_ID)
        foreign = SENDER.sign_transaction(
            {
                "to": SINK,
                "value": 1,
                "gas": 21_000,
                "maxFeePerGas": 2 * 10**9,
                "maxPriorityFeePerGas": 10**9,
                "nonce": 0,
                "chainId": 31337,  # anvil's
            }
        )
        with pytest.raises(ChainMismatchError, match="for chain id 31337"):
            one.w3.eth.send_raw_transaction(foreign.raw_transaction)
    with EmbeddedChain.open(tmp_path / "two") as two:
        assert two.chain_id == EMBEDDED_CHAIN_ID
    with EmbeddedChain.open(tmp_path / "one") as again:
        assert again.chain_id == EMBEDDED_CHAIN_ID


def test_block_time_only_moves_forward_across_restarts(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        # A burst: one block per transaction, a second apart at least, so block time runs ahead
        # of the wall clock; the restart below must not go back to the wall clock.
        for nonce in range(20):
            _transfer(chain, SENDER, nonce)
        ahead = chain.block_time() - time.time()
    assert ahead > 5
    with EmbeddedChain.open(tmp_path) as chain:
        _transfer(chain, SENDER, 20)
        times = _block_times(chain)
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    assert times[-1] == times[-2] + 1


def test_a_block_after_a_pause_takes_the_wall_clock_time(tmp_path: Path) -> None:
    with EmbeddedChain.open(tmp_path, genesis_accounts=RICH) as chain:
        _transfer(chain, SENDER, 0)
        time.sleep(2.1)  # the pending block's time was set when block 1 was mined
        sent_at = int(time.time())
        block = _transfer(chain, SENDER, 1).block_number
        assert chain.w3.eth.get_block(block)["timestamp"] >= sent_at


# --- threads -----------------------------------------------------------------------------------


def test_four_threads_sending_at_once_leave_a_consistent_chain(tmp_path: Path) -> None:
    senders = [_key(f"thread-{i}") for i in range(4)]
    per_thread = 12
    receipts: dict[str, list[Receipt]] = {s.address: [] for s in senders}
    errors: list[BaseException] = []
    with EmbeddedChain.open(tmp_path, genesis_accounts={s.address: 10**21 for s in senders}) as c:

        def work(sender: LocalAccount) -> None:
            try:
                for nonce in range(per_thread):
                    receipts[sender.address].append(_transfer(c, sender, nonce))
                    c.w3.eth.get_block("latest")  # reads interleaved with other threads' writes
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(s,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        head = c.w3.eth.block_number

    with EmbeddedChain.open(tmp_path) as chain:
        assert chain.w3.eth.block_number == head == 4 * per_thread
        blocks = [r.block_number for rs in receipts.values() for r in rs]
        assert sorted(blocks) == list(range(1, head + 1))  # one transaction per block
        for sender in senders:
            assert chain.w3.eth.get_transaction_count(sender.address) == per_thread
            nonces = [
                chain.w3.eth.get_transaction(HexBytes(r.tx_hash))["nonce"]
                for r in receipts[sender.address]
            ]
            assert nonces == list(range(per_thread))


def test_a_closed_chain_refuses_use(tmp_path: Path) -> None:
    chain = EmbeddedChain.open(tmp_path, genesis_accounts=RICH)
    chain.close()
    with pytest.raises(ChainUnavailableError, match="closed"):
        _transfer(chain, SENDER, 0)
    with pytest.raises(ChainUnavailableError, match="closed"):
        chain.w3.eth.get_block("latest")
    chain.close()  # twice is harmless
