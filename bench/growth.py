#!/usr/bin/env python
"""How API latency grows with the ledger: verification by hash, single registration, lineage.

    python bench/growth.py [--sizes 1000,10000[,100000]] [--requests N] [--txs-per-block N]
                           [--max-seconds S] [--json]

Set-up as ``bench/api_load.py`` (``bench/_service.py``): anvil on loopback (FIFO order, no
block gas limit, automatic impersonation), the contracts deployed with the service's key,
``python -m api serve`` on it, department 1 enrolled through the API. Then the ledger is grown
to each of ``--sizes`` datasets *around* the service: ``createDataset`` transactions from the
department's own key (impersonated: the same calls and events as the department sending them),
``--txs-per-block`` per block, sent as raw JSON-RPC batches with automine off and one
``evm_mine`` per block (``bench/indexer.py``'s ``Encoder`` and ``Rpc``), and the service's
indexer is left to catch up (``/readyz`` lag 0). Two lineage chains (each dataset's first
version derived from the previous dataset's), of 2 and of 50 datasets, are laid down first.

At each size, one connection at a time (``bench/_load.py``), ``--requests`` requests each:

* ``verify_registered``: ``POST /v1/verify`` of a prefilled hash (one registration);
* ``verify_unregistered``: the same with a fresh random hash;
* ``register_ack``: ``POST /v1/datasets`` with a fresh hash, time to the 202;
* ``lineage_1`` / ``lineage_50``: ``GET /v1/datasets/{id}/lineage?depth=20`` of the newest
  dataset of a chain of 2 (1 ancestor) and of a chain of 50 (49 ancestors, of which the API
  walks at most 20 levels: ``depth`` is capped at 20);
* ``chain_get_logs`` (baseline, no API): raw ``eth_getLogs`` by content-hash topic over the
  whole deployment range, the query every verification starts with.

The figures at the first size are the same-run baseline: the ratio of each figure at a larger
size to its value at the first shows whether it grows with the ledger (the design says
verification by hash and registration are O(1) in the number of datasets).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
from _load import http_request, run_load, summary
from _service import enrol_department, percentiles, prepare_anvil, serve, settle
from eth_utils.crypto import keccak
from indexer import Encoder, Rpc

from ledger.chain.clients.datasets import DatasetRegistryClient
from ledger.chain.deploy import Ledger

LINEAGE = 50
TX_GAS = 600_000
ANVIL_ARGS = ("--order", "fifo", "--disable-block-gas-limit", "--auto-impersonate")
VERSION_ADDED = (
    "0x"
    + keccak(
        text="VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
    ).hex()
)


class Grower:
    """Adds datasets of department 1 straight on the chain, from its own (impersonated) key."""

    def __init__(self, ledger: Ledger, url: str, signer: str, txs_per_block: int) -> None:
        self.rpc = Rpc(url)
        self.encode = Encoder("DatasetRegistry")
        self.to = ledger.deployment.dataset_registry
        self.start_block = ledger.deployment.start_block
        self.signer = signer
        self.txs_per_block = txs_per_block
        self.datasets = 0
        self.hashes: list[str] = []  # up to 1,000 registered content hashes, to verify
        self.rpc("anvil_setBalance", signer, hex(10**24))

    def _create(self, parents: list[tuple[bytes, int]]) -> tuple[dict[str, Any], bytes, bytes]:
        """A ``createDataset`` transaction; (tx, dataset id, content hash)."""
        salt, content = os.urandom(32), os.urandom(32)
        data = self.encode("createDataset", salt, 0, bytes(32), (content, bytes(32), parents))
        tx = {"from": self.signer, "to": self.to, "gas": hex(TX_GAS), "data": data}
        return tx, DatasetRegistryClient.dataset_id_of(1, salt), content

    def _mine(self, txs: list[dict[str, Any]]) -> None:
        """One block of ``txs`` (automine off), every receipt checked."""
        self.rpc("evm_setAutomine", False)
        try:
            self.rpc.batch([("eth_sendTransaction", [tx]) for tx in txs])
            self.rpc("evm_mine")
        finally:
            self.rpc("evm_setAutomine", True)
        receipts = self.rpc("eth_getBlockReceipts", "latest")
        failed = [r for r in receipts if r["status"] != "0x1"]
        if len(receipts) < len(txs) or failed:
            raise RuntimeError(f"{len(receipts)}/{len(txs)} mined, {len(failed)} failed")
        self.datasets += len(txs)

    def lineage(self, length: int) -> list[str]:
        """A chain of ``length`` datasets, each derived from the previous, in one block (FIFO
        order: each parent exists when its child runs); their ids."""
        ids: list[bytes] = []
        txs = []
        for _ in range(length):
            tx, dataset_id, _ = self._create([(ids[-1], 1)] if ids else [])
            txs.append(tx)
            ids.append(dataset_id)
        self._mine(txs)
        return ["0x" + i.hex() for i in ids]

    def grow_to(self, size: int, deadline: float) -> None:
        while self.datasets < size:
            if time.monotonic() > deadline:
                raise TimeoutError(f"--max-seconds: {self.datasets} datasets, not {size}")
            txs = []
            for _ in range(min(self.txs_per_block, size - self.datasets)):
                tx, _, content = self._create([])
                txs.append(tx)
                if len(self.hashes) < 1000:
                    self.hashes.append("0x" + content.hex())
            self._mine(txs)


def _wait_indexed(base: str, deadline: float) -> float:
    """Seconds until the service's indexer has caught up with the head."""
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        checks = httpx2.get(f"{base}/readyz", timeout=30).json()["checks"]
        if checks["indexer"].get("lag_blocks") == 0:
            return time.monotonic() - t0
        time.sleep(0.2)
    raise TimeoutError("--max-seconds: the indexer did not catch up")


def measure(
    base: str, token: str, grower: Grower, lineage: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """Every figure at the ledger's current size."""
    port = int(base.rsplit(":", 1)[1])

    def post(path: str, document: dict[str, Any]) -> bytes:
        body = json.dumps(document).encode()
        return http_request(path, body, content_type="application/json", token=token, port=port)

    def get(path: str) -> bytes:
        return http_request(
            path, b"", content_type="text/plain", token=token, method="GET", port=port
        )

    def fresh() -> str:
        return "0x" + os.urandom(32).hex()

    hashes = grower.hashes
    requests: dict[str, Callable[[int], bytes]] = {
        "verify_registered": lambda i: post(
            "/v1/verify", {"content_hash": hashes[i % len(hashes)]}
        ),
        "verify_unregistered": lambda i: post("/v1/verify", {"content_hash": fresh()}),
        "register_ack": lambda i: post(
            "/v1/datasets", {"content_hash": fresh(), "metadata": {"title": f"growth {i}"}}
        ),
        "lineage_1": lambda i: get(f"/v1/datasets/{lineage[0]}/lineage?depth=20"),
        "lineage_50": lambda i: get(f"/v1/datasets/{lineage[1]}/lineage?depth=20"),
    }
    out: dict[str, Any] = {}
    for name, make in requests.items():
        run_load(port, make, requests=5, max_seconds=args.max_seconds, concurrency=1)  # warm-up
        result = run_load(
            port,
            make,
            requests=args.requests,
            max_seconds=args.max_seconds,
            concurrency=1,
            keep_bodies=name == "register_ack",
        )
        out[name] = summary(result, percentiles)
        if name == "register_ack":
            # The relayer drains before the next size is laid down with automine off.
            op_ids = [json.loads(body)["operation_id"] for body in result.bodies]
            with httpx2.Client(base_url=base, timeout=60) as client:
                client.headers["Authorization"] = f"Bearer {token}"
                statuses = settle(client, op_ids, 0.05, timeout=args.max_seconds + 60)
            out[name]["operations"] = dict(statuses)
            grower.datasets += statuses["confirmed"]
    latencies = []
    for i in range(min(args.requests, 200)):
        t0 = time.perf_counter()
        grower.rpc(
            "eth_getLogs",
            {
                "address": grower.to,
                "fromBlock": hex(grower.start_block),
                "toBlock": "latest",
                "topics": [VERSION_ADDED, None, hashes[i % len(hashes)]],
            },
        )
        latencies.append(time.perf_counter() - t0)
    out["chain_get_logs"] = {"requests": len(latencies), "latency_ms": percentiles(latencies)}
    return out


def run(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    started = time.monotonic()
    deadline = started + args.max_seconds * 20
    levels: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as tmp, ExitStack() as stack:
        data_dir = Path(tmp) / "data"
        env, ledger = prepare_anvil(stack, data_dir, extra_args=ANVIL_ARGS)
        base, _ = stack.enter_context(serve(data_dir, env))
        token = enrol_department(base, data_dir)
        signer = ledger.departments.department(1).signer
        grower = Grower(ledger, env["PROVLEDGER_RPC_URL"], signer, args.txs_per_block)
        # The newest of each chain: 1 ancestor and no descendant, 50 ancestors and none.
        lineage = [grower.lineage(2)[-1], grower.lineage(LINEAGE)[-1]]
        for size in sizes:
            t0 = time.monotonic()
            try:
                grower.grow_to(size, deadline)
            except TimeoutError as exc:
                log(str(exc))
                break
            grown = time.monotonic() - t0
            caught_up = _wait_indexed(base, deadline)
            log(f"{grower.datasets:,} datasets: laid in {grown:.1f} s, indexed +{caught_up:.1f} s")
            level = {
                "datasets": grower.datasets,
                "head": int(grower.rpc("eth_blockNumber"), 16),
                "prefill_s": round(grown, 1),
                "index_catch_up_s": round(caught_up, 1),
                **measure(base, token, grower, lineage, args),
            }
            levels.append(level)
    first = levels[0] if levels else {}
    for level in levels:
        level["p50_over_first"] = {
            name: round(level[name]["latency_ms"]["p50"] / first[name]["latency_ms"]["p50"], 2)
            for name in FIGURES
            if first[name]["latency_ms"]["p50"]
        }
    return {
        "command": " ".join(["python", "bench/growth.py", *sys.argv[1:]]),
        "txs_per_block": args.txs_per_block,
        "requests": args.requests,
        "seconds": round(time.monotonic() - started, 1),
        "levels": levels,
    }


FIGURES = (
    "verify_registered",
    "verify_unregistered",
    "register_ack",
    "lineage_1",
    "lineage_50",
    "chain_get_logs",
)


def _print(result: dict[str, Any]) -> None:
    print(f"\n== growth ({result['command']}), {result['txs_per_block']} datasets per block")
    print(
        f"{'figure':<22}{'datasets':>10}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}  ms  p50/first"
    )
    for name in FIGURES:
        for level in result["levels"]:
            r = level[name]
            p = r["latency_ms"]
            rate = r.get("per_s", "")
            print(
                f"{name:<22}{level['datasets']:>10,}{rate:>9}{p['p50']:>8}{p['p95']:>8}"
                f"{p['p99']:>8}  {level['p50_over_first'].get(name, '')}"
                f"  {r.get('operations', '')}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="datasets, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="per figure and size")
    parser.add_argument("--txs-per-block", type=int, default=100)
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, help="per figure; 20x bounds the whole run"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.requests < 1 or args.txs_per_block < 1:
        parser.error("--requests and --txs-per-block must be >= 1")
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result = run(args, log)
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
