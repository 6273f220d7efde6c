#!/usr/bin/env python
"""``/rpc`` of the embedded default under reads and hostile calls.

    python bench/rpc.py [--datasets N] [--samples N] [--timeout S]

Serves ``python -m api serve`` (embedded chain, ``PROVLEDGER_RPC_EVM_TIMEOUT`` = ``--timeout``,
default 5) on a free loopback port, registers ``N`` datasets (default 300) through the API, then
measures over HTTP, ``--samples`` times each (default 50):

* read latency p50/p99: ``eth_call`` of ``dataset(id)``, ``eth_getLogs`` by content hash over the
  whole chain (1 log) and of every ``VersionAdded`` (N logs), ``eth_getProof`` with two slots,
  ``eth_getBlockByNumber`` hydrated;
* an ``eth_call`` that loops forever: when it is answered, and ``/healthz`` latency (p50, p99,
  max) polled every 20 ms meanwhile; a batch of four such calls, end to end;
* a worker killed (SIGSEGV) during such a call: how soon the call is answered, and how long
  until a new worker answers a call (respawn).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2
from _service import enrol_department, percentiles, serve, settle
from eth_utils import keccak

LOOP = {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"input": "0x5b600056"}]}
VERSION_ADDED = (
    "0x"
    + keccak(
        text="VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
    ).hex()
)


def rpc(client: httpx2.Client, method: str, *params: Any) -> Any:
    answer = client.post(
        "/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    ).json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def timings(fn: Callable[[], Any], samples: int) -> dict[str, float]:
    durations = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - start)
    return percentiles(durations)


def workers_of(pid: int) -> list[int]:
    """Process ids of the service's EVM workers (its children running the worker module)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"ledger.rpc.evm.worker" in cmdline:
                found.append(int(child))
    return found


def endless_call(base: str) -> tuple[dict[str, Any], float, list[float]]:
    """Run an endless eth_call; its answer, how long it took, /healthz latencies meanwhile."""
    answers: list[dict[str, Any]] = []
    start = time.monotonic()
    caller = threading.Thread(
        target=lambda: answers.append(httpx2.post(f"{base}/rpc", json=LOOP, timeout=60).json())
    )
    caller.start()
    latencies = []
    with httpx2.Client(base_url=base, timeout=30) as health:
        while caller.is_alive():
            begin = time.perf_counter()
            health.get("/healthz")
            latencies.append(time.perf_counter() - begin)
            time.sleep(0.02)
    return answers[0], time.monotonic() - start, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=300)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        env = {"PROVLEDGER_RPC_EVM_TIMEOUT": str(args.timeout)}
        with serve(data_dir, env) as (base, pid):
            token = enrol_department(base, data_dir)
            client = httpx2.Client(base_url=base, timeout=60)
            client.headers["Authorization"] = f"Bearer {token}"
            ops, contents, datasets = [], [], []
            for n in range(args.datasets):
                content = "0x" + keccak(text=f"bench/rpc/{n}").hex()
                accepted = client.post(
                    "/v1/datasets",
                    json={"content_hash": content, "metadata": {"title": f"bench {n}"}},
                ).json()
                ops.append(accepted["operation_id"])
                contents.append(content)
                datasets.append(accepted["resource"]["dataset_id"])
            print(f"registered: {dict(settle(client, ops, 0.1, 600))}")
            registry = client.get(f"/v1/operations/{ops[0]}").json()["chain"]["contract"]
            head = int(rpc(client, "eth_blockNumber"), 16)
            print(f"chain: {head} blocks; worker processes: {workers_of(pid)}")

            view = {"to": registry, "input": "0x" + keccak(text="dataset(bytes32)")[:4].hex()}
            view["input"] += datasets[0][2:]
            middle = contents[len(contents) // 2]
            rows = {
                "eth_call dataset(id)": lambda: rpc(client, "eth_call", view, "latest"),
                "eth_getLogs by content hash (1 log)": lambda: rpc(
                    client, "eth_getLogs", {"fromBlock": "0x0", "topics": [None, None, middle]}
                ),
                f"eth_getLogs VersionAdded ({args.datasets} logs)": lambda: rpc(
                    client, "eth_getLogs", {"fromBlock": "0x0", "topics": [VERSION_ADDED]}
                ),
                "eth_getProof, 2 slots": lambda: rpc(
                    client, "eth_getProof", registry, ["0x0", "0x1"], "latest"
                ),
                "eth_getBlockByNumber latest, hydrated": lambda: rpc(
                    client, "eth_getBlockByNumber", "latest", True
                ),
            }
            for name, fn in rows.items():
                fn()  # warm
                print(f"{name}: {timings(fn, args.samples)} ms")

            answer, took, latencies = endless_call(base)
            print(f"endless eth_call: answered in {took:.2f} s: {answer['error']}")
            print(f"/healthz meanwhile ({len(latencies)} polls): {percentiles(latencies)} ms")
            start = time.monotonic()
            batch = [{**LOOP, "id": i} for i in range(4)]
            answers = httpx2.post(f"{base}/rpc", json=batch, timeout=120).json()
            print(
                f"batch of 4 endless calls: {time.monotonic() - start:.2f} s, "
                f"{[a['error']['code'] for a in answers]}"
            )

            (worker,) = workers_of(pid)
            answers = []
            caller = threading.Thread(
                target=lambda: answers.append(httpx2.post(f"{base}/rpc", json=LOOP).json())
            )
            caller.start()
            time.sleep(0.5)
            killed = time.monotonic()
            os.kill(worker, signal.SIGSEGV)
            caller.join()
            answered = time.monotonic() - killed
            while workers_of(pid) in ([], [worker]):
                time.sleep(0.01)
            rpc(client, "eth_call", view, "latest")
            print(
                f"worker killed: call answered in {answered * 1000:.0f} ms "
                f"({answers[0]['error']['code']}), a new worker answering after "
                f"{time.monotonic() - killed:.2f} s"
            )
            healthz = [httpx2.get(f"{base}/healthz").status_code for _ in range(3)]
            print(f"service alive: /healthz {healthz}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
