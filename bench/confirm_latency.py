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
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

# This checkout's packages, not an installed copy (python puts bench/, not the root, on the path).
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx2  # noqa: E402

from ledger.chain.anvil import AnvilNode, free_port  # noqa: E402
from ledger.chain.backend import Chain  # noqa: E402
from ledger.chain.deploy import Ledger  # noqa: E402
from ledger.config import Settings  # noqa: E402
from ledger.runtime import service_account  # noqa: E402


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)}


def _prepare_anvil(stack: ExitStack, data_dir: Path) -> dict[str, str]:
    """Start anvil and deploy the contracts with the service's key; the service's env."""
    node = stack.enter_context(AnvilNode())
    settings = Settings(data_dir=data_dir, rpc_url=node.url, chain_id=node.chain_id)
    account = service_account(settings)  # the keystore the service will unlock
    chain = Chain.rpc(node.url, expected_chain_id=node.chain_id)
    chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**24)])
    ledger = Ledger.deploy(chain, account)
    settings.resolved_deployment_file.write_text(ledger.deployment.to_json() + "\n")
    return {"PROVLEDGER_RPC_URL": node.url, "PROVLEDGER_CHAIN_ID": str(node.chain_id)}


@contextmanager
def _serve(data_dir: Path, extra_env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """``python -m api serve`` on a free loopback port, until /readyz answers; (url, pid)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVLEDGER_")}
    env |= {"PROVLEDGER_DATA_DIR": str(data_dir), "PROVLEDGER_PORT": str(port), **extra_env}
    log_path = data_dir.parent / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "serve"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx2.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not come up:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(timeout=60)


def _confirm(client: httpx2.Client, op_id: str, poll: float) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        op = client.get(f"/v1/operations/{op_id}").json()
        if op["status"] == "confirmed":
            return
        if op["status"] == "failed":
            raise RuntimeError(f"operation failed: {op}")
        time.sleep(poll)
    raise RuntimeError(f"operation {op_id} not confirmed within 300 s")


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
    _confirm(client, response.json()["operation_id"], poll)
    return acknowledged, time.perf_counter() - t0


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_chain(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    poll = args.poll_ms / 1000
    result: dict[str, Any] = {"chain": kind, "poll_ms": args.poll_ms}
    with tempfile.TemporaryDirectory(prefix=f"bench-confirm-{kind}-") as tmp, ExitStack() as stack:
        data_dir = Path(tmp) / "data"
        extra = _prepare_anvil(stack, data_dir) if kind == "anvil" else {}
        base, pid = stack.enter_context(_serve(data_dir, extra))
        governance = (data_dir / "governance.token").read_text().strip()
        with httpx2.Client(base_url=base, timeout=60) as gov:
            gov.headers["Authorization"] = f"Bearer {governance}"
            enrolled = gov.post("/v1/departments", json={"department_id": 1, "name": "Bench"})
            if enrolled.status_code != 202:
                raise RuntimeError(f"enrol: {enrolled.status_code} {enrolled.text}")
            _confirm(gov, enrolled.json()["operation_id"], poll)
        token = enrolled.json()["token"]

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
            "ack_ms": _percentiles(acks),
            "confirmed_ms": _percentiles(confirms),
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
            "ack_ms": _percentiles(c_acks),
            "confirmed_ms": _percentiles(c_confirms),
        }
        result["serve_peak_rss_mib"] = round(_vm_hwm_mib(pid), 1)
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
