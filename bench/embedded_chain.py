#!/usr/bin/env python
"""Throughput, latency, disk and memory of the durable embedded chain, against anvil.

    python bench/embedded_chain.py [--records N] [--anvil-records N] [--max-seconds S]
                                   [--anvil-max-seconds S] [--index-seconds S]
                                   [--chains embedded,anvil]
                                   [--synchronous FULL|NORMAL] [--json]

Registers ``N`` records (default 2,000), one ``addVersion`` transaction each, sent by the
department's own key through ``Chain.transact`` (nonce, gas estimate, sign, send, receipt: what
the service does per record), on

* **embedded**: :class:`ledger.chain.embedded.EmbeddedChain` in a fresh temporary data
  directory (py-evm in process, one SQLite commit per block, ``--synchronous`` FULL by default);
* **anvil**: a managed :class:`ledger.chain.anvil.AnvilNode` (``--prune-history 256``, its
  default) made durable the only way anvil can be, ``--state <dir>/state.json --state-interval
  1`` (a state dump every second; a ``kill -9`` loses up to a second of transactions).

Each chain runs in a child process of its own, so peak RSS is that chain's alone (for anvil: the
node's ``VmHWM`` plus the Python client's). Reported per chain:

* tx/s, CPU ms per transaction, p50/p99 latency and bytes on disk in each 10 % slice of the run
  (CPU = the Python process, plus the node for anvil: on a shared machine wall-clock rates
  wobble with other load, CPU per transaction does not), so a slowdown as the chain grows shows;
* p50/p95/p99 latency of one record over the run, bytes on disk and per record, growth of
  ``~/.foundry/anvil/tmp``, peak RSS, how far block time ran ahead of the wall clock;
* reads once the chain is long: ``eth_getLogs`` over the whole chain by content hash (what an
  auditor asks) and for all of the four contracts' logs (what the indexer asks), a receipt
  lookup of the first record, and the indexer (``Indexer.sync``) catching up from block 0 into
  a fresh SQLite index for at most ``--index-seconds`` (events/s);
* for the embedded chain: bytes per table of its SQLite file, and the time to close and reopen.

Everything listens on loopback only. A chain stops registering after ``--max-seconds`` (default
600) and reports what it did; ``--anvil-records`` and ``--anvil-max-seconds`` bound anvil
lower.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

# This checkout's packages, not an installed copy (python puts bench/, not the root, on the path).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rlp  # type: ignore[import-untyped]
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from ledger.chain.anvil import AnvilNode
from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.chain.embedded import EmbeddedChain, Synchronous
from ledger.chain.types import Classification, NewVersion
from ledger.db import make_engine
from ledger.index.indexer import Indexer

SLICES = 10
ANVIL_TMP = Path.home() / ".foundry" / "anvil" / "tmp"


def _du(path: Path) -> int:
    """Bytes in the files under ``path`` (0 if it does not exist)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _proc_rss_mib(pid: int | str, field: str = "VmRSS") -> float:
    """Resident memory of a process now (``VmRSS``) or at its peak (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@contextmanager
def _open(kind: str, workdir: Path, synchronous: str) -> Iterator[tuple[Chain, int | None]]:
    """The chain under test and, for anvil, the node's pid (its CPU and RSS count too)."""
    if kind == "embedded":
        with EmbeddedChain.open(workdir, synchronous=cast(Synchronous, synchronous)) as chain:
            yield chain, None
        return
    state = workdir / "state.json"
    with AnvilNode(extra_args=("--state", str(state), "--state-interval", "1")) as node:
        assert node._process is not None
        yield Chain.rpc(node.url, expected_chain_id=node.chain_id), node._process.pid


def _tables(db_file: Path) -> dict[str, int]:
    """Bytes per table and index of a SQLite file (read-only; the chain must be closed)."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    db.close()
    return {name: int(size) for name, size in sorted(rows, key=lambda r: -r[1])}


def _kv_kinds(db_file: Path) -> dict[str, int]:
    """Key + value bytes of py-evm's key-value table by kind (read-only; chain closed): which
    part of the chain the disk goes to. Trie nodes are told apart by their RLP shape."""
    sizes: dict[str, int] = {}
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as db:
        for key, value in db.execute("SELECT k, v FROM kv"):
            if len(key) != 32:
                kind = "lookup " + key.split(b":")[0].decode(errors="replace")
            else:
                try:
                    items = len(rlp.decode(value, strict=False))
                except (rlp.DecodingError, TypeError):
                    items = -1
                kind = {17: "trie branch node", 2: "trie leaf/extension node"}.get(
                    items, "block header" if items >= 15 else "code or other"
                )
            sizes[kind] = sizes.get(kind, 0) + len(key) + len(value)
    db.close()
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def run_one(
    kind: str, records: int, max_seconds: float, index_seconds: float, synchronous: str
) -> dict[str, Any]:
    """Register ``records`` versions on one chain and measure; runs in a child process."""
    gov = Account.from_key(keccak(text="bench:governance"))
    dept = Account.from_key(keccak(text="bench:department"))
    anvil_tmp_before = _du(ANVIL_TMP)
    result: dict[str, Any] = {"chain": kind, "records_requested": records}
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        workdir = Path(tmp)
        with _open(kind, workdir, synchronous) as (chain, node_pid):
            ledger, head = _register(
                kind, chain, node_pid, workdir, gov, dept, records, max_seconds, result
            )
            _reads(ledger, result)
            _index(ledger, index_seconds, result)
            if node_pid:
                result["node_peak_rss_mib"] = round(_proc_rss_mib(node_pid, "VmHWM"), 1)
        # Stopped: anvil has written its final state dump, SQLite has removed its WAL.
        result["disk_bytes_after_close"] = _du(workdir)
        result["files_after_close"] = sorted(p.name for p in workdir.iterdir())
        grown = result["disk_bytes_after_close"] - result.pop("_disk_before")
        result["disk_bytes_per_record"] = round(grown / result["records"])
        if kind == "embedded":
            result["sqlite_bytes_by_table"] = _tables(workdir / "chain.sqlite3")
            result["kv_payload_bytes_by_kind"] = _kv_kinds(workdir / "chain.sqlite3")
            t0 = time.perf_counter()
            with EmbeddedChain.open(workdir) as reopened:
                assert reopened.w3.eth.block_number == head
                result["reopen_s"] = round(time.perf_counter() - t0, 2)
    result["anvil_tmp_growth_bytes"] = _du(ANVIL_TMP) - anvil_tmp_before
    result["python_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    return result


def _register(
    kind: str,
    chain: Chain,
    node_pid: int | None,
    workdir: Path,
    gov: LocalAccount,
    dept: LocalAccount,
    records: int,
    max_seconds: float,
    result: dict[str, Any],
) -> tuple[Ledger, int]:
    """Set up a dataset, register the records, measure into ``result``; the head block."""
    for person in (gov, dept):
        chain.fund(person.address, 10**24)
    ledger = Ledger.deploy(chain, gov)
    ledger.departments.enrol_department(1, "Department of Health", dept.address, sender=gov)
    salt = keccak(text="bench:dataset")
    first = NewVersion(content_hash=keccak(text="bench:0"))
    ledger.datasets.create_dataset(
        salt, Classification.INTERNAL, keccak(text="bench:metadata"), first, sender=dept
    )
    dataset_id = ledger.datasets.dataset_id_of(1, salt)
    # Without SQLite's WAL, which holds recent pages until a checkpoint moves them.
    result["_disk_before"] = sum(_du(p) for p in workdir.iterdir() if not p.name.endswith("-wal"))

    latencies: list[float] = []
    # (records, wall, cpu, rss, disk) at slice ends
    marks: list[tuple[int, float, float, float, int]] = []
    per_slice = max(1, records // SLICES)

    def cpu() -> float:
        own = time.process_time()
        return own + (_proc_cpu_seconds(node_pid) if node_pid else 0.0)

    def rss() -> float:
        return _proc_rss_mib("self") + (_proc_rss_mib(node_pid) if node_pid else 0.0)

    marks.append((0, time.perf_counter(), cpu(), rss(), _du(workdir)))
    for i in range(records):
        t0 = time.perf_counter()
        receipt = ledger.datasets.add_version(
            dataset_id, NewVersion(content_hash=keccak(text=f"bench:{i + 1}")), sender=dept
        )
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        if i == 0:
            result["_first_tx"] = receipt.tx_hash
        out_of_time = t1 - marks[0][1] > max_seconds
        if (i + 1) % per_slice == 0 or i + 1 == records or out_of_time:
            marks.append((i + 1, t1, cpu(), rss(), _du(workdir)))  # only at slice ends
            n0, w0, c0 = marks[-2][:3]
            print(  # progress of a long run, on stderr (stdout carries the JSON result)
                f"{kind}: {i + 1} records, {(i + 1 - n0) / (t1 - w0):.1f} tx/s,"
                f" {(marks[-1][2] - c0) / (i + 1 - n0) * 1000:.1f} CPU ms/tx",
                file=sys.stderr,
                flush=True,
            )
        if out_of_time:
            break
    done, wall = len(latencies), marks[-1][1] - marks[0][1]
    result.update(records=done, seconds=round(wall, 1), tx_per_s=round(done / wall, 1))
    slices = [
        {
            "upto": n,
            "tx_per_s": round((n - n0) / (w - w0), 1),
            "cpu_ms_per_tx": round((c - c0) / (n - n0) * 1000, 1),
            "p50_ms": round(_percentile(sorted(latencies[n0:n]), 0.50) * 1000, 1),
            "p99_ms": round(_percentile(sorted(latencies[n0:n]), 0.99) * 1000, 1),
            "rss_mib": round(m, 1),
            "disk_bytes": d,
        }
        for (n0, w0, c0, _, _), (n, w, c, m, d) in itertools.pairwise(marks)
        if n > n0
    ]
    result["slices"] = slices
    ordered = sorted(latencies)
    result["latency_ms"] = {
        "p50": round(_percentile(ordered, 0.50) * 1000, 1),
        "p95": round(_percentile(ordered, 0.95) * 1000, 1),
        "p99": round(_percentile(ordered, 0.99) * 1000, 1),
        "max": round(ordered[-1] * 1000, 1),
        "mean": round(statistics.fmean(ordered) * 1000, 1),
    }
    latest = chain.w3.eth.get_block("latest")
    result["block_time_ahead_of_wall_clock_s"] = int(latest["timestamp"] - time.time())
    result["blocks"] = int(latest["number"])
    result["disk_bytes_while_running"] = _du(workdir)
    return ledger, int(latest["number"])


def _reads(ledger: Ledger, result: dict[str, Any]) -> None:
    """Reads an auditor and the indexer do, once the chain is long."""
    w3, done = ledger.chain.w3, result["records"]
    t0 = time.perf_counter()
    found = ledger.datasets.registrations_of(keccak(text=f"bench:{done // 2 + 1}"))
    result["get_logs_by_content_hash_s"] = round(time.perf_counter() - t0, 3)
    assert len(found) == 1, found
    contracts = [c.address for c in (ledger.departments, ledger.datasets, ledger.access)]
    t0 = time.perf_counter()
    logs = w3.eth.get_logs(
        {"address": [*contracts, ledger.anchors.address], "fromBlock": 0, "toBlock": "latest"}
    )
    result["get_logs_all_contracts_s"] = round(time.perf_counter() - t0, 2)
    result["get_logs_all_contracts_logs"] = len(logs)
    t0 = time.perf_counter()
    w3.eth.get_transaction_receipt(HexBytes(result.pop("_first_tx")))
    result["first_receipt_lookup_ms"] = round((time.perf_counter() - t0) * 1000, 2)


def _index(ledger: Ledger, seconds: float, result: dict[str, Any]) -> None:
    """The indexer catching up from the deployment into a fresh SQLite index, time-bounded."""
    if seconds <= 0:
        return
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/index.db")
        indexer = Indexer(ledger=ledger, engine=engine)
        events = blocks = 0
        t0, c0 = time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < seconds:
            report = indexer.sync(max_blocks=indexer.batch_blocks)
            events, blocks = events + report.events, blocks + report.blocks
            if report.lag == 0:
                break
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        engine.dispose()
    result["indexer"] = {
        "events": events,
        "blocks": blocks,
        "seconds": round(wall, 1),
        "events_per_s": round(events / wall, 1),
        "python_cpu_ms_per_event": round(cpu / max(events, 1) * 1000, 2),
        "caught_up": report.lag == 0,
    }


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} vCPU, {mem:.0f} GiB, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )


def _print(result: dict[str, Any]) -> None:
    print(f"\n== {result['chain']}: {result['records']} records in {result['seconds']} s")
    print(
        f"   overall {result['tx_per_s']} tx/s; per 10 % slice"
        " (tx/s | CPU ms/tx | p50/p99 ms | RSS MiB | disk MB):"
    )
    for s in result["slices"]:
        print(
            f"     up to {s['upto']:>7}: {s['tx_per_s']:>6} tx/s | {s['cpu_ms_per_tx']:>6} ms"
            f" | {s['p50_ms']:>6}/{s['p99_ms']:<6} | {s['rss_mib']:>7} | "
            f"{s['disk_bytes'] / 1e6:>8.1f}"
        )
    lat = result["latency_ms"]
    print(f"   latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}")
    for key in (
        "disk_bytes_while_running",
        "disk_bytes_per_record",
        "disk_bytes_after_close",
        "files_after_close",
        "sqlite_bytes_by_table",
        "kv_payload_bytes_by_kind",
        "anvil_tmp_growth_bytes",
        "python_peak_rss_mib",
        "node_peak_rss_mib",
        "block_time_ahead_of_wall_clock_s",
        "get_logs_by_content_hash_s",
        "get_logs_all_contracts_s",
        "get_logs_all_contracts_logs",
        "first_receipt_lookup_ms",
        "indexer",
        "reopen_s",
    ):
        if result.get(key) is not None:
            print(f"   {key}: {result[key]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--anvil-records", type=int, help="records on anvil (default: --records)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="per chain")
    parser.add_argument("--anvil-max-seconds", type=float, help="default: --max-seconds")
    parser.add_argument(
        "--index-seconds", type=float, default=300.0, help="indexer time budget (0: skip)"
    )
    parser.add_argument("--chains", default="embedded,anvil")
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL")
    parser.add_argument("--json", action="store_true", help="one JSON object per chain")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one chain, in-process
    args = parser.parse_args()
    if args.records < 1:
        parser.error("--records must be >= 1")

    if args.worker:
        result = run_one(
            args.worker, args.records, args.max_seconds, args.index_seconds, args.synchronous
        )
        print(json.dumps(result))
        return 0

    if not args.json:
        print(f"machine: {_machine()}")
        print(f"records: {args.records}, max {args.max_seconds:.0f} s per chain")
    for kind in args.chains.split(","):
        if kind not in ("embedded", "anvil"):
            parser.error(f"unknown chain {kind!r}")
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                kind,
                "--records",
                str(args.anvil_records or args.records if kind == "anvil" else args.records),
                "--max-seconds",
                str(
                    args.anvil_max_seconds or args.max_seconds
                    if kind == "anvil"
                    else args.max_seconds
                ),
                "--index-seconds",
                str(args.index_seconds),
                "--synchronous",
                args.synchronous,
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result["machine"] = _machine()
        result["command"] = " ".join(["python", "bench/embedded_chain.py", *sys.argv[1:]])
        if args.json:
            print(json.dumps(result))
        else:
            _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
