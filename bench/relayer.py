#!/usr/bin/env python
"""Relayer throughput: outbox rows to confirmed transactions, against same-run baselines.

    python bench/relayer.py [--records N] [--naive-records N] [--embedded-records N]
                            [--max-seconds S] [--rpc-batch B] [--tick-batch T]
                            [--chains anvil,embedded] [--json]

On a fresh chain (a managed anvil node on loopback; the embedded chain, py-evm in process on
SQLite, in a temporary directory), the contracts are deployed and one department per stage is
enrolled with a dataset of its own. Each stage then adds versions to its dataset with
``addVersionBySig`` (signatures made before the clock starts) and is timed until every
transaction is mined:

* **naive**: ``Chain.transact()`` per record (nonce, gas estimate, sign, send, wait for the
  receipt), about ten RPC calls each;
* **raw 1-by-1**: transactions signed beforehand, sent one ``eth_sendRawTransaction`` at a
  time, then the last receipt awaited;
* **raw batch**: the same, sent in JSON-RPC batches of ``--rpc-batch`` over plain HTTP (anvil
  only: the embedded chain has no HTTP); no database;
* **relayer**: ``--records`` custodial operations committed to a SQLite outbox beforehand, then
  ``Relayer.tick()`` until all are confirmed (1 confirmation): signing, the outbox commits,
  broadcasting and receipt tracking are all inside the timing.

Every stage stops after ``--max-seconds`` and reports what it did; the naive stage does at most
``--naive-records``. Each stage checks on chain that its dataset gained exactly the versions
it sent. Output: a table (or with ``--json`` one JSON object per chain).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Measure the code of the checkout this script is in (worktrees share one virtualenv).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlmodel import Session

from ledger.chain.abi_json import function_inputs, to_json
from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion
from ledger.db import create_tables, make_engine
from ledger.relayer import Relayer, enqueue
from ledger.relayer.gas import gas_limit


@dataclass
class Stage:
    name: str
    records: int
    seconds: float
    nudges: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
class Department:
    """One stage's department: its key, id and dataset, and its next signature nonce."""

    key: LocalAccount
    department_id: int
    dataset_id: bytes
    nonce: int = 0


class Bench:
    def __init__(self, chain: Chain, args: argparse.Namespace) -> None:
        self.chain = chain
        self.args = args
        self.sender = self._funded()
        self.ledger = Ledger.deploy(chain, self.sender)
        self._departments = 0
        self.nudges = 0

    def _funded(self) -> LocalAccount:
        account: LocalAccount = Account.create()
        self.chain.fund(account.address, 10**24)
        return account

    def department(self) -> Department:
        self._departments += 1
        key = self._funded()
        dept_id = self._departments
        self.ledger.departments.enrol_department(
            dept_id, f"Bench {dept_id}", key.address, sender=self.sender
        )
        salt = os.urandom(32)
        self.ledger.datasets.create_dataset(
            salt, Classification.PUBLIC, os.urandom(32), NewVersion(os.urandom(32)), sender=key
        )
        return Department(key, dept_id, self.ledger.datasets.dataset_id_of(dept_id, salt))

    def signed_calls(self, dept: Department, count: int) -> list[tuple[Any, list[Any], Any]]:
        """``count`` addVersionBySig calls: (web3 function, its arguments, typed fields)."""
        deadline = self.chain.block_time() + 24 * 3600
        calls = []
        for _ in range(count):
            version = NewVersion(os.urandom(32), os.urandom(32))
            auth = self.ledger.datasets.sign_add_version(
                dept.dataset_id,
                version,
                signer=dept.key,
                department_id=dept.department_id,
                deadline=deadline,
                nonce=dept.nonce,
            )
            dept.nonce += 1
            args = [dept.dataset_id, version.as_abi(), auth.as_abi()]
            fn = self.ledger.datasets.contract.functions.addVersionBySig(*args)
            fields = {
                "datasetId": dept.dataset_id,
                "contentHash": version.content_hash,
                "metadataHash": version.metadata_hash,
                "parents": [],
            }
            calls.append((fn, args, fields))
        return calls

    def versions(self, dept: Department) -> int:
        return self.ledger.datasets.dataset(dept.dataset_id).version_count - 1

    # --- stages ------------------------------------------------------------------------------

    def naive(self, count: int) -> Stage:
        dept = self.department()
        calls = self.signed_calls(dept, count)
        with timed() as clock:
            done = 0
            for fn, _, _ in calls:
                self.chain.transact(fn, self.sender)
                done += 1
                if clock() > self.args.max_seconds:
                    break
        return self._checked(Stage("naive transact()+receipt", done, clock()), dept)

    def presigned(self, count: int, *, batched: bool) -> Stage:
        dept = self.department()
        raws, last = self._sign_raw(self.signed_calls(dept, count))
        name = f"raw, JSON-RPC batches of {self.args.rpc_batch}" if batched else "raw, 1 by 1"
        with timed() as clock:
            sent = _send_batched(self.chain, raws, self.args) if batched else self._send(raws)
            self._await(last[sent - 1])
        return self._checked(Stage(name, sent, clock(), self.nudges), dept)

    def relayer(self, count: int, workdir: Path) -> Stage:
        dept = self.department()
        calls = self.signed_calls(dept, count)
        engine = make_engine(f"sqlite:///{workdir / f'outbox-{dept.department_id}.db'}")
        create_tables(engine)
        with Session(engine) as session:
            for nonce, (_, args, fields) in enumerate(calls):
                enqueue(
                    session,
                    kind="datasets.add_version",
                    contract="DatasetRegistry",
                    function="addVersionBySig",
                    args=args,
                    department_id=dept.department_id,
                    action_type="AddVersion",
                    action_fields=fields,
                    signature_nonce=nonce,
                    custodial=True,
                    signer=dept.key.address,
                )
            session.commit()
        relayer = Relayer(
            ledger=self.ledger,
            engine=engine,
            account=self.sender,
            keys=lambda _d, address: dept.key if address == dept.key.address else None,
            batch=self.args.tick_batch,
            rpc_batch=self.args.rpc_batch,
        )
        confirmed = failed = 0
        stalled = Stall(self)
        with timed() as clock:
            while confirmed + failed < count and clock() < self.args.max_seconds:
                report = relayer.tick()
                confirmed += report.confirmed
                failed += report.failed
                stalled.check()
        engine.dispose()
        if failed:
            raise SystemExit(f"relayer stage: {failed} operations failed")
        stage = Stage(f"relayer (tick {self.args.tick_batch})", confirmed, clock(), self.nudges)
        return self._checked(stage, dept)

    # --- helpers -----------------------------------------------------------------------------

    def _sign_raw(self, calls: list[tuple[Any, list[Any], Any]]) -> tuple[list[str], list[str]]:
        w3 = self.chain.w3
        nonce = w3.eth.get_transaction_count(self.sender.address, "pending")
        base = int(w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        raws, hashes = [], []
        inputs = function_inputs("DatasetRegistry", "addVersionBySig")
        gas = gas_limit("DatasetRegistry", "addVersionBySig", to_json(calls[0][1], inputs))
        for i, (fn, _, _) in enumerate(calls):
            tx = {
                "to": self.ledger.datasets.address,
                "data": fn._encode_transaction_data(),
                "value": 0,
                "gas": gas,
                "nonce": nonce + i,
                "chainId": self.chain.chain_id,
                # Ten times the base fee, not the usual two: 2,000 transactions sent at once
                # fill blocks, and the base fee climbs 12.5% per full block while these wait.
                "maxFeePerGas": base * 10 + 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
            signed = self.sender.sign_transaction(tx)
            raws.append(HexBytes(signed.raw_transaction).to_0x_hex())
            hashes.append(HexBytes(signed.hash).to_0x_hex())
        return raws, hashes

    def _send(self, raws: list[str]) -> int:
        start = time.perf_counter()
        for sent, raw in enumerate(raws, 1):
            self.chain.w3.eth.send_raw_transaction(raw)
            if time.perf_counter() - start > self.args.max_seconds:
                return sent
        return len(raws)

    def _await(self, tx_hash: str) -> None:
        deadline = time.perf_counter() + self.args.max_seconds
        stalled = Stall(self)
        while time.perf_counter() < deadline:
            try:
                receipt = self.chain.w3.eth.get_transaction_receipt(tx_hash)
            except Exception:
                stalled.check()
                time.sleep(0.005)
                continue
            if receipt["status"] != 1:
                raise SystemExit(f"transaction {tx_hash} reverted")
            return
        raise SystemExit(f"transaction {tx_hash} not mined in {self.args.max_seconds} s")

    def _checked(self, stage: Stage, dept: Department) -> Stage:
        mined = self.versions(dept)
        if mined != stage.records:
            raise SystemExit(f"{stage.name}: {stage.records} sent, {mined} versions on chain")
        return stage


class Stall:
    """Anvil's automine can leave transactions pending after a burst of batched sends (one
    that arrived ahead of its nonce is never mined until something else arrives). When the
    sender's nonce has not moved for a second, mine a block (``evm_mine``) and count it: the
    nudges are reported next to the figure."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.nonce = -1
        self.since = time.perf_counter()

    def check(self) -> None:
        if time.perf_counter() - self.since < 1.0:
            return
        chain = self.bench.chain
        nonce = chain.w3.eth.get_transaction_count(self.bench.sender.address, "latest")
        pending = chain.w3.eth.get_transaction_count(self.bench.sender.address, "pending")
        if nonce == self.nonce and pending > nonce and not chain.is_in_process:
            chain._rpc("evm_mine", [])
            self.bench.nudges += 1
        self.nonce, self.since = nonce, time.perf_counter()


def _send_batched(chain: Chain, raws: list[str], args: argparse.Namespace) -> int:
    url = chain.rpc_url
    assert url is not None
    http = requests.Session()
    start = time.perf_counter()
    for offset in range(0, len(raws), args.rpc_batch):
        chunk = raws[offset : offset + args.rpc_batch]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
            for i, raw in enumerate(chunk)
        ]
        answers = http.post(url, json=body, timeout=60).json()
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            raise SystemExit(f"batch send refused: {errors[:3]}")
        if time.perf_counter() - start > args.max_seconds:
            return offset + len(chunk)
    return len(raws)


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


@contextmanager
def fresh_chain(kind: str, workdir: Path) -> Iterator[Chain]:
    """A new chain for one stage: no stage inherits another's blocks or mempool."""
    if kind == "anvil":
        from ledger.chain.anvil import AnvilNode

        with AnvilNode() as node:
            yield Chain.rpc(node.url, expected_chain_id=node.chain_id)
    else:
        from ledger.chain.embedded import EmbeddedChain

        with EmbeddedChain.open(Path(tempfile.mkdtemp(dir=workdir))) as chain:
            yield chain


def run_chain(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    records = args.records if kind == "anvil" else args.embedded_records
    plan: list[tuple[str, Callable[[Bench, Path], Stage]]] = [
        ("naive", lambda b, _: b.naive(min(args.naive_records, records))),
        ("raw", lambda b, _: b.presigned(records, batched=False)),
        ("batch", lambda b, _: b.presigned(records, batched=True)),
        ("relayer", lambda b, w: b.relayer(records, w)),
    ]
    load = os.getloadavg()[0]
    stages = []
    with tempfile.TemporaryDirectory(prefix="bench-relayer-") as tmp:
        workdir = Path(tmp)
        for name, run in plan:
            if name == "batch" and kind != "anvil":
                continue  # no HTTP to batch on
            with fresh_chain(kind, workdir) as chain:
                stages.append(run(Bench(chain, args), workdir))
    naive = stages[0].rate
    return {
        "chain": kind,
        "stages": [
            {**asdict(s), "tx_per_s": round(s.rate, 1), "x_naive": round(s.rate / naive, 1)}
            for s in stages
        ],
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def _print(result: dict[str, Any]) -> None:
    print(f"\n{result['chain']} (1-min load {result['load_1min'][0]} → {result['load_1min'][1]})")
    print(f"{'stage':<34} {'records':>8} {'seconds':>8} {'tx/s':>8} {'x naive':>8} nudges")
    for s in result["stages"]:
        print(
            f"{s['name']:<34} {s['records']:>8} {s['seconds']:>8.2f} "
            f"{s['tx_per_s']:>8.1f} {s['x_naive']:>8.1f} {s['nudges']:>6}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records per stage on anvil")
    parser.add_argument("--naive-records", type=int, default=100)
    parser.add_argument("--embedded-records", type=int, default=200)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="per stage")
    parser.add_argument("--rpc-batch", type=int, default=100, help="JSON-RPC batch size")
    parser.add_argument("--tick-batch", type=int, default=500, help="relayer ops per tick")
    parser.add_argument("--chains", default="anvil,embedded")
    parser.add_argument("--json", action="store_true", help="one JSON object per chain")
    args = parser.parse_args()
    if min(args.records, args.naive_records, args.embedded_records, args.rpc_batch) < 1:
        parser.error("counts and --rpc-batch must be >= 1")
    for kind in args.chains.split(","):
        if kind not in ("anvil", "embedded"):
            parser.error(f"unknown chain {kind!r}")
        result = run_chain(kind, args)
        result["command"] = " ".join(["python", "bench/relayer.py", *sys.argv[1:]])
        if args.json:
            print(json.dumps(result))
        else:
            _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
