"""Honest traffic while a hostile client attacks: does the service hold?

``provledger serve`` runs on the embedded default (a fresh data directory) in its own process.
Sixteen honest clients (half registering datasets, half verifying hashes that are registered)
load it from this process while a prober asks ``/healthz`` every 20 ms. Each attack of the
security review then runs for a phase, and right before it the same honest load runs for a
phase with no attack (the same-run baseline). For each attack it reports honest throughput and
its ratio to the baseline, ``/healthz`` p50/p99, any 5xx an honest client got, and how much the
server's resident memory grew.

Targets (issue 8): honest throughput >= 0.8x the baseline and ``/healthz`` p99 <= 100 ms under
every attack, no 5xx to honest clients, RSS growth <= 200 MB.

On a machine of two or more cores the server (all its threads and its eth_call workers) is
pinned to one core and the clients (honest and hostile) to the others: as on a network, where
the attacker's machine spends its own CPU, what is measured is what an attack costs the
service, not what generating it costs the machine they share. (The server is one process, its
Python bound by one core whatever it is given; the eth_call workers share that core, niced.)

    python bench/abuse.py                      # every attack, 3 rounds of 10 s phases
    python bench/abuse.py --phase 20 --rounds 2 --only evm-loop,slowloris
    python bench/abuse.py --quick              # make bench: one round of 5 s phases
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from _load import http_request, multipart
from _service import enrol_department, percentiles, serve

HONEST_CLIENTS = 16
#: Registered records the verifying clients pick from (a verified hash is a registered one).
REGISTERED = 200
#: A contract that loops forever: JUMPDEST PUSH1 0 JUMP.
ENDLESS_LOOP = "0x5b600056"


# --- measuring ----------------------------------------------------------------------------


def _tasks_and_children(pid: int) -> tuple[list[int], list[int]]:
    tasks = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    children: list[int] = []
    for task in tasks:
        with contextlib.suppress(FileNotFoundError):
            children += [
                int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            ]
    return tasks, children


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of ``pid`` and of its descendants to ``cpus`` (threads made later
    inherit it from the thread that makes them)."""
    tasks, children = _tasks_and_children(pid)
    for task in tasks:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(task, cpus)
    for child in children:
        pin(child, cpus)


def split_cores(server_pid: int) -> str:
    """Give the server one core and this process (and the attacker it starts) the rest."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return "one core: server and clients share it"
    pin(server_pid, {cores[0]})
    os.sched_setaffinity(0, set(cores[1:]))
    return f"server on core {cores[0]}, clients on {cores[1:]}"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mib(pid: int) -> float:
    """Resident memory of the server and its children (the eth_call workers)."""
    total = rss_mib(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                total += rss_mib(int(child))
    return total


@dataclass
class Phase:
    """What the honest side saw during one phase."""

    seconds: float = 0.0
    completed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    healthz_failures: int = 0

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def merge(self, other: Phase) -> None:
        """Add ``other``'s figures to these (one more round of the same phase)."""
        self.seconds += other.seconds
        self.completed += other.completed
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.latencies += other.latencies
        self.healthz += other.healthz
        self.healthz_failures += other.healthz_failures

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def honest_phase(port: int, make: list[Callable[[int], bytes]], seconds: float) -> Phase:
    """``len(make)`` honest clients, each sending its own requests back to back, and a prober
    asking /healthz every 20 ms, for ``seconds``."""
    phase = Phase()
    deadline = time.perf_counter() + seconds
    counter = itertools.count()

    async def client(build: Callable[[int], bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                writer.write(build(next(counter)))
                status, keep_alive = await _read_response(reader)
                phase.latencies.append(time.perf_counter() - t0)
                phase.statuses[status] = phase.statuses.get(status, 0) + 1
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    async def prober() -> None:
        probe = http_request("/healthz", b"", content_type="text/plain", method="GET", port=port)
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), 5
                )
                writer.write(probe)
                status, _ = await asyncio.wait_for(_read_response(reader), 5)
                writer.close()
                if status != 200:
                    phase.healthz_failures += 1
            except (TimeoutError, OSError):
                phase.healthz_failures += 1
            phase.healthz.append(time.perf_counter() - t0)
            await asyncio.sleep(0.02)

    started = time.perf_counter()
    await asyncio.gather(prober(), *(client(build) for build in make))
    phase.seconds = time.perf_counter() - started
    phase.completed = len(phase.latencies)
    return phase


# --- the attacks ------------------------------------------------------------------------------


Attack = Callable[[int, dict[str, str], threading.Event], Awaitable[int]]


async def _raw(port: int, payload: bytes, *, read: bool = True, timeout: float = 30) -> None:
    """Send ``payload`` on a new connection; read (and drop) whatever comes back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        if read:
            with contextlib.suppress(TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                await asyncio.wait_for(reader.read(65536), timeout)
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _hammer(
    port: int, request: Callable[[], bytes], *, connections: int, stop: threading.Event
) -> int:
    """Send ``request()`` back to back on ``connections`` keep-alive connections (reopened when
    the server closes one) until ``stop``; how many were answered."""

    async def one() -> int:
        n = 0
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not stop.is_set():
                writer.write(request())
                _, keep_alive = await _read_response(reader)
                n += 1
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()
        return n

    return sum(await asyncio.gather(*(one() for _ in range(connections))))


async def deep_json(port: int, _: dict[str, str], stop: threading.Event) -> int:
    """100,000-deep JSON at /rpc and at a governance write, no token (finding 1)."""
    body = b"[" * 100_000 + b"]" * 100_000
    targets = ["/rpc", "/v1/departments/1/suspend"]
    sent = 0
    while not stop.is_set():
        for path in targets:
            await _raw(port, http_request(path, body, content_type="application/json", port=port))
            sent += 1
    return sent


async def evm_loop(port: int, _: dict[str, str], stop: threading.Event) -> int:
    """eth_call of an endless loop, batches of 4, from two connections (finding 2)."""
    call = {"jsonrpc": "2.0", "method": "eth_call", "params": [{"data": ENDLESS_LOOP}, "latest"]}
    batch = json.dumps([{**call, "id": i} for i in range(4)]).encode()
    request = http_request("/rpc", batch, content_type="application/json", port=port)

    async def one() -> int:
        n = 0
        while not stop.is_set():
            await _raw(port, request, timeout=60)
            n += 1
        return n

    return sum(await asyncio.gather(one(), one()))


async def huge_bodies(port: int, tokens: dict[str, str], stop: threading.Event) -> int:
    """Stream 300 MB of JSON to a governance write with no token, and 1 GB to /v1/verify
    (finding 3), chunked, as fast as the server takes them."""
    chunk = b'"' + b"x" * 65_000 + b'",'  # a long array of long strings, never closed

    async def stream(path: str, total: int, token: str | None) -> None:
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ]
        if token:
            head.append(f"Authorization: Bearer {token}")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + b"1\r\n[\r\n")
            sent = 0
            while sent < total and not stop.is_set() and not reader.at_eof():
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            pass
        finally:
            writer.close()

    n = 0
    while not stop.is_set():
        await asyncio.gather(
            stream("/v1/departments/1/suspend", 300 * 10**6, None),
            stream("/v1/verify", 10**9, tokens["other"]),
        )
        n += 2
    return n


async def pool_exhaustion(port: int, tokens: dict[str, str], stop: threading.Event) -> int:
    """20 concurrent withdrawals of another department's dataset, again and again (finding 4)."""
    request = http_request(
        f"/v1/datasets/{tokens['dataset']}/withdraw",
        b"{}",
        content_type="application/json",
        token=tokens["other"],
        port=port,
    )

    return await _hammer(port, lambda: request, connections=20, stop=stop)


async def token_race(port: int, tokens: dict[str, str], stop: threading.Event) -> int:
    """20 concurrent token requests with one Idempotency-Key, a new key each round
    (finding 5)."""
    n = 0
    for round_ in itertools.count():
        if stop.is_set():
            break
        key = f"race-{os.getpid()}-{round_}"
        head = (
            "POST /v1/departments/2/tokens HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {tokens['governance']}\r\nIdempotency-Key: {key}\r\n"
            "Content-Length: 17\r\n\r\n"
        ).encode() + b'{"label": "race"}'
        await asyncio.gather(*(_raw(port, head) for _ in range(20)))
        n += 20
    return n


async def truncated_uploads(port: int, tokens: dict[str, str], stop: threading.Event) -> int:
    """Multipart uploads that end inside the file part (finding 6)."""
    content_type, body = multipart("file", "data.csv", os.urandom(200_000))
    cut = body[: len(body) // 2]
    request = (
        f"POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: {content_type}\r\nAuthorization: Bearer {tokens['other']}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(cut), cut)
    n = 0
    while not stop.is_set():
        await asyncio.gather(*(_raw(port, request) for _ in range(4)))
        n += 4
    return n


async def huge_integers(port: int, tokens: dict[str, str], stop: threading.Event) -> int:
    """Out-of-range integers in paths and queries (finding 7) and malformed JSON-RPC
    (finding 8), on four keep-alive connections."""
    big = str(2**70)
    dataset = "0x" + "ab" * 32
    paths = [
        f"/v1/datasets?owner={big}",
        f"/v1/datasets/{dataset}/versions/{big}",
        f"/v1/datasets/{dataset}/lineage?version={big}",
        f"/v1/datasets/{dataset}/access?department=-1",
        f"/v1/audit/events?from_block={big}",
    ]
    requests = [
        http_request(p, b"", content_type="text/plain", method="GET", token=tokens["other"],
                     port=port)
        for p in paths
    ] + [
        http_request("/rpc", body, content_type="application/json", port=port)
        for body in (b'{"jsonrpc":"2.0","id":1,"method":["x"]}', b"{}",
                     b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":{"a":1}}',
                     b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":5}')
    ]  # fmt: skip

    return await _hammer(port, lambda: random.choice(requests), connections=4, stop=stop)


async def slowloris(port: int, _: dict[str, str], stop: threading.Event) -> int:
    """3,000 connections sending their headers a byte at a time (finding 9): each is reopened
    when the server drops it, so the attack keeps 3,000 up for the whole phase."""
    partial = f"GET /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode()
    opened = 0

    async def one() -> None:
        nonlocal opened
        while not stop.is_set():
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            opened += 1
            try:
                for byte in itertools.cycle(partial):
                    if stop.is_set():
                        break
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(1.0)
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

    await asyncio.gather(*(one() for _ in range(3000)))
    return opened


ATTACKS: dict[str, Attack] = {
    "deep-json": deep_json,
    "evm-loop": evm_loop,
    "huge-bodies": huge_bodies,
    "pool-exhaustion": pool_exhaustion,
    "token-race": token_race,
    "truncated-uploads": truncated_uploads,
    "huge-integers": huge_integers,
    "slowloris": slowloris,
}


def attack_phase(
    name: str,
    port: int,
    tokens: dict[str, str],
    clients: list[Callable[[int], bytes]],
    seconds: float,
) -> tuple[Phase, int]:
    """One phase of honest load while attack ``name`` runs from a process of its own; what the
    honest side saw, and how many attack requests were answered."""
    context = multiprocessing.get_context("spawn")
    stop, count = context.Event(), context.Value("q", 0)
    attacker = context.Process(
        target=attacker_process, args=(name, port, tokens, stop, count), daemon=True
    )
    attacker.start()
    time.sleep(1.5)  # the attacker's interpreter starts and the attack gets going
    phase = asyncio.run(honest_phase(port, clients, seconds))
    stop.set()
    attacker.join(timeout=120)
    if attacker.is_alive():
        attacker.kill()
    time.sleep(2.0)  # what the attack left behind (held connections, queued work) drains
    return phase, int(count.value)


def attacker_process(name: str, port: int, tokens: dict[str, str], stop: Any, count: Any) -> None:
    """Run attack ``name`` until ``stop`` (a multiprocessing Event) is set; its request count
    into ``count``. A process of its own: the attacker is another machine on the network, and
    must not share this process's GIL with the honest clients it would otherwise slow itself."""
    stopped = threading.Event()

    def watch() -> None:
        stop.wait()
        stopped.set()

    threading.Thread(target=watch, daemon=True).start()
    count.value = asyncio.run(ATTACKS[name](port, tokens, stopped))


# --- the honest workload ----------------------------------------------------------------------


def prepare(base: str, data_dir: Path, port: int) -> tuple[dict[str, str], list[str]]:
    """Two departments (honest one, and another for the attacks that need a department), a
    dataset of the honest one, and REGISTERED confirmed records to verify."""
    honest = enrol_department(base, data_dir, 1)
    other = enrol_department(base, data_dir, 2)
    governance = (data_dir / "governance.token").read_text().strip()
    hashes = ["0x" + os.urandom(32).hex() for _ in range(REGISTERED)]
    with httpx2.Client(base_url=base, timeout=120) as client:
        client.headers["Authorization"] = f"Bearer {honest}"
        ops = []
        for h in hashes:
            answer = client.post(
                "/v1/datasets", json={"content_hash": h, "metadata": {"title": "seed"}}
            )
            answer.raise_for_status()
            ops.append(answer.json())
        for op in ops:
            while client.get(f"/v1/operations/{op['operation_id']}").json()["status"] != (
                "confirmed"
            ):
                time.sleep(0.05)
    tokens = {
        "honest": honest,
        "other": other,
        "governance": governance,
        "dataset": ops[0]["resource"]["dataset_id"],
    }
    return tokens, hashes


def honest_clients(port: int, token: str, hashes: list[str]) -> list[Callable[[int], bytes]]:
    """Half the clients register new datasets (JSON, by hash), half verify registered hashes."""

    def register(_: int) -> bytes:
        body = json.dumps({"content_hash": "0x" + os.urandom(32).hex(),
                           "metadata": {"title": "honest"}}).encode()  # fmt: skip
        return http_request("/v1/datasets", body, content_type="application/json",
                            token=token, port=port)  # fmt: skip

    def verify(i: int) -> bytes:
        body = json.dumps({"content_hash": hashes[i % len(hashes)]}).encode()
        return http_request("/v1/verify", body, content_type="application/json",
                            token=token, port=port)  # fmt: skip

    half = HONEST_CLIENTS // 2
    return [register] * half + [verify] * (HONEST_CLIENTS - half)


def figures(phase: Phase) -> dict[str, Any]:
    return {
        "honest_per_s": round(phase.per_second, 1),
        "honest_latency_ms": percentiles(phase.latencies),
        "honest_5xx": phase.server_errors,
        "honest_statuses": {str(k): v for k, v in sorted(phase.statuses.items())},
        "healthz_ms": percentiles(phase.healthz),
        "healthz_failures": phase.healthz_failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", type=float, default=10.0, help="seconds per phase")
    parser.add_argument(
        "--rounds", type=int, default=3, help="baseline/attack pairs per attack, alternating"
    )
    parser.add_argument("--only", default="", help="comma-separated attacks to run")
    parser.add_argument("--quick", action="store_true", help="5 s phases (make bench)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.phase
    rounds = 1 if args.quick else args.rounds
    chosen = [a for a in args.only.split(",") if a] or list(ATTACKS)

    report: dict[str, Any] = {"phase_seconds": seconds, "rounds": rounds, "attacks": {}}
    with tempfile.TemporaryDirectory(prefix="provledger-abuse-") as tmp:
        data_dir = Path(tmp) / "data"
        with serve(data_dir, {}) as (base, pid):
            port = int(base.rsplit(":", 1)[1])
            tokens, hashes = prepare(base, data_dir, port)
            report["cores"] = split_cores(pid)
            print(report["cores"], flush=True)
            clients = honest_clients(port, tokens["honest"], hashes)
            asyncio.run(honest_phase(port, clients, 3.0))  # warm up
            rss_start = tree_rss_mib(pid)
            results: dict[str, int] = {}
            for name in chosen:
                rss_before = tree_rss_mib(pid)
                baseline, attacked, rss_during = Phase(), Phase(), rss_before
                # Baseline and attack alternate, round after round: the honest load drifts
                # (the relayer and indexer catch up in bursts), and alternating spreads the
                # drift over both sides instead of handing it to one.
                for _ in range(rounds):
                    baseline.merge(asyncio.run(honest_phase(port, clients, seconds)))
                    under, count = attack_phase(name, port, tokens, clients, seconds)
                    attacked.merge(under)
                    results[name] = results.get(name, 0) + count
                    rss_during = max(rss_during, tree_rss_mib(pid))
                entry = {
                    "baseline": figures(baseline),
                    "attacked": figures(attacked),
                    "throughput_ratio": round(attacked.per_second / baseline.per_second, 2)
                    if baseline.per_second
                    else 0.0,
                    "attack_requests": results.get(name, 0),
                    "rss_mib": {"before": round(rss_before), "during": round(rss_during)},
                }
                report["attacks"][name] = entry
                print(_line(name, entry), flush=True)
            report["rss_growth_mib"] = round(tree_rss_mib(pid) - rss_start)
    missed = misses(report)
    report["targets_missed"] = missed
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"server RSS growth over the whole run: {report['rss_growth_mib']} MiB")
        print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


def misses(report: dict[str, Any]) -> list[str]:
    """The targets of issue 8 the run missed, in words."""
    missed = []
    for name, entry in report["attacks"].items():
        attacked = entry["attacked"]
        if entry["throughput_ratio"] < 0.8:
            missed.append(f"{name}: honest throughput {entry['throughput_ratio']}x < 0.8x")
        if attacked["healthz_ms"]["p99"] > 100:
            missed.append(f"{name}: /healthz p99 {attacked['healthz_ms']['p99']} ms > 100 ms")
        if attacked["honest_5xx"]:
            missed.append(f"{name}: {attacked['honest_5xx']} 5xx to honest clients")
    if report["rss_growth_mib"] > 200:
        missed.append(f"RSS grew {report['rss_growth_mib']} MiB > 200 MiB")
    return missed


def _line(name: str, entry: dict[str, Any]) -> str:
    b, a = entry["baseline"], entry["attacked"]

    def healthz(side: dict[str, Any]) -> str:
        return f"{side['healthz_ms']['p50']:.0f}/{side['healthz_ms']['p99']:.0f}"

    return (
        f"{name:18} honest {a['honest_per_s']:6.1f}/s vs {b['honest_per_s']:6.1f}/s "
        f"({entry['throughput_ratio']:.2f}x)  healthz p50/p99 {healthz(a)} ms vs {healthz(b)} ms"
        f"  honest 5xx {a['honest_5xx']}  attack requests {entry['attack_requests']}"
        f"  RSS {entry['rss_mib']['before']}->{entry['rss_mib']['during']} MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
