#!/usr/bin/env python
"""Request → confirmed latency through the service: the embedded default against anvil.

    python bench/confirm_latency.py [--requests N] [--concurrent-requests N] [--clients C]
                                    [--chains embedded,anvil] [--poll-ms MS] [--json]

For each chain it starts ``python -m api serve`` (this checkout) with a fresh temporary
``PROVLEDGER_DATA_DIR`` on a free loopback port:

* **embedded**: nothing else configured, so the service runs its embedded chain;
* **anvil**: a managed :class:`ledger.chain.anvil.AnvilNode`, the contracts deployed by the
  service's own key (created here exactly as the service creates it, funded with
  ``anvil_setBalance``), and ``PROVLEDGER_RPC_URL``/``PROVLEDGER_CHAIN_ID`` pointing at it.

It enrols department 1 with the governance token the service writes on first start, then
registers datasets with ``POST /v1/datasets`` (a random content hash) and polls
``GET /v1/operations/{id}`` every ``--poll-ms`` until the operation is ``confirmed``. Measured:
the time to the 202 (acknowledged) and to confirmed, p50/p95/p99, for ``--requests`` requests
one after another, then for ``--concurrent-requests`` requests from ``--clients`` clients at
once (with the confirmed records per second). Default settings: K = 1 confirmation, the
relayer polls its outbox every 0.2 s. The polling clients load the same two cores as the
service; the figures include that.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
from _service import confirm, enrol_department, percentiles, prepare_anvil, serve, vm_hwm_mib


def _register(client: httpx2.Client, poll: float) -> tuple[float, float]:
    """One dataset registered and confirmed; (seconds to 202, seconds to confirmed)."""
    t0 = time.perf_counter()
    response = client.post(
        "/v1/datasets",
        json={"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": "bench"}},
    )
    if response.status_code != 202:
        raise RuntimeError(f"POST /v1/datasets: {response.status_code} {response.text}")
    acknowledged = time.perf_counter() - t0
    confirm(client, response.json()["operation_id"], poll)
    return acknowledged, time.perf_counter() - t0


def run_chain(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    poll = args.poll_ms / 1000
    result: dict[str, Any] = {"chain": kind, "poll_ms": args.poll_ms}
    with tempfile.TemporaryDirectory(prefix=f"bench-confirm-{kind}-") as tmp, ExitStack() as stack:
        data_dir = Path(tmp) / "data"
        extra = prepare_anvil(stack, data_dir)[0] if kind == "anvil" else {}
        base, pid = stack.enter_context(serve(data_dir, extra))
        token = enrol_department(base, data_dir, poll=poll)

        def client() -> httpx2.Client:
            c = httpx2.Client(base_url=base, timeout=60)
            c.headers["Authorization"] = f"Bearer {token}"
            return c

        with client() as one:
            for _ in range(3):
                _register(one, poll)  # warm-up: first-use paths (nonce slots, caches)
            acks, confirms = [], []
            t0 = time.perf_counter()
            for _ in range(args.requests):
                ack, confirmed = _register(one, poll)
                acks.append(ack)
                confirms.append(confirmed)
            wall = time.perf_counter() - t0
        result["sequential"] = {
            "requests": args.requests,
            "confirmed_per_s": round(args.requests / wall, 1),
            "ack_ms": percentiles(acks),
            "confirmed_ms": percentiles(confirms),
        }

        lock, left = threading.Lock(), [args.concurrent_requests]
        c_acks: list[float] = []
        c_confirms: list[float] = []
        errors: list[BaseException] = []

        def work() -> None:
            with client() as mine:
                while True:
                    with lock:
                        if left[0] == 0:
                            return
                        left[0] -= 1
                    try:
                        ack, confirmed = _register(mine, poll)
                    except BaseException as exc:
                        errors.append(exc)
                        return
                    with lock:
                        c_acks.append(ack)
                        c_confirms.append(confirmed)

        threads = [threading.Thread(target=work) for _ in range(args.clients)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - t0
        if errors:
            raise RuntimeError(f"{len(errors)} concurrent requests failed: {errors[0]}")
        result["concurrent"] = {
            "clients": args.clients,
            "requests": len(c_confirms),
            "confirmed_per_s": round(len(c_confirms) / wall, 1),
            "ack_ms": percentiles(c_acks),
            "confirmed_ms": percentiles(c_confirms),
        }
        result["serve_peak_rss_mib"] = round(vm_hwm_mib(pid), 1)
        result["data_dir_bytes"] = sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"\n== {result['chain']} (poll every {result['poll_ms']} ms)")
    for phase in ("sequential", "concurrent"):
        r = result[phase]
        who = f"{r['clients']} clients" if phase == "concurrent" else "1 client"
        print(f"   {phase}, {who}: {r['requests']} requests, {r['confirmed_per_s']} confirmed/s")
        for what in ("ack_ms", "confirmed_ms"):
            p = r[what]
            print(
                f"     {what:>12}: p50 {p['p50']:>7}  p95 {p['p95']:>7}  p99 {p['p99']:>7}"
                f"  max {p['max']:>7}"
            )
    print(f"   serve peak RSS {result['serve_peak_rss_mib']} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential requests")
    parser.add_argument("--concurrent-requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--chains", default="embedded,anvil")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="operation polling interval")
    parser.add_argument("--json", action="store_true", help="one JSON object per chain")
    args = parser.parse_args()
    if min(args.requests, args.concurrent_requests, args.clients) < 1:
        parser.error("--requests, --concurrent-requests and --clients must be >= 1")
    for kind in args.chains.split(","):
        if kind not in ("embedded", "anvil"):
            parser.error(f"unknown chain {kind!r}")
        result = run_chain(kind, args)
        result["command"] = " ".join(["python", "bench/confirm_latency.py", *sys.argv[1:]])
        if args.json:
            print(json.dumps(result))
        else:
            _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
