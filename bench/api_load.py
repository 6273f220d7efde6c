#!/usr/bin/env python
"""API throughput and latency: ``provledger serve`` on anvil under load, next to a baseline.

    python bench/api_load.py [--requests N] [--upload-requests N] [--registrations N]
                             [--batch-requests N] [--batch-size N] [--concurrency C]
                             [--max-seconds S] [--seed-hashes N]
                             [--scenarios a,b,…] [--profile DIR] [--json]

Set-up (``bench/_service.py``, shared with ``confirm_latency.py``): anvil on loopback, the
contracts deployed with the service's key, ``python -m api serve`` of this checkout pointed at
it (one uvicorn process, the service's own settings, ``api.server.run``), department 1 enrolled
through the API, ``--seed-hashes`` datasets registered and confirmed, plus the hash of a 1 MiB
random file. Then, from ``--concurrency`` keep-alive connections of a lean asyncio client
(``bench/_load.py``; it shares the two cores with the server and anvil):

* ``verify_hash_registered``: ``POST /v1/verify`` JSON ``{"content_hash"}``, one of the seeded
  hashes (each answer has one registration, fully checked against the chain);
* ``verify_hash_unregistered``: the same with a fresh random hash (no registration: the
  ``eth_getLogs`` alone);
* ``verify_file_1mib``: ``POST /v1/verify`` multipart upload of the 1 MiB file (registered);
* ``register_single``: ``POST /v1/datasets`` JSON with a fresh content hash; acknowledged
  (202) per second, then confirmed per second (every operation polled until ``confirmed``;
  measured from the first request to the last confirmation);
* ``register_batched``: ``POST /v1/datasets/batch`` with ``--batch-size`` new datasets per
  request (batched Merkle anchoring); records acknowledged per second, then confirmed per
  second (every record's operation polled until it settles, as for ``register_single``).

Baseline, same run, same client and settings: ``bench/trivial_app.py`` (FastAPI endpoints that
read the body and answer a small JSON object) served by ``api.server.run`` exactly like the
service. Every scenario is bounded by its request count and ``--max-seconds``; the first
``--warmup`` requests of each are sent and not counted (at most 3 for the registrations).
``--profile DIR`` samples the service with py-spy (``pip install -e '.[bench]'``) during the
two verify-by-hash scenarios and the batched registrations and prints where its time goes
(the collapsed stacks are kept in DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
from _load import LoadResult, http_request, multipart, run_load, summary
from _service import REPO, confirm, enrol_department, percentiles, prepare_anvil, serve, settle

from ledger.hashing import sha256_bytes

SCENARIOS = (
    "verify_hash_registered",
    "verify_hash_unregistered",
    "verify_file_1mib",
    "register_single",
    "register_batched",
)
TARGET_VERIFY_PER_S = 2000.0
TARGET_VERIFY_P99_MS = 50.0
MIB = 1 << 20


def _json_body(content_hash: str) -> bytes:
    return json.dumps({"content_hash": content_hash}).encode()


def _random_hash() -> str:
    return "0x" + os.urandom(32).hex()


class Target:
    """One server under load: its port, a token, and what the scenarios send it."""

    def __init__(
        self, base: str, token: str, registered: list[str], file_bytes: bytes, batch_size: int
    ) -> None:
        self.base = base
        self.batch_size = batch_size
        self.port = int(base.rsplit(":", 1)[1])
        self.token = token
        self.registered = registered
        self.file_bytes = file_bytes

    def request(self, path: str, body: bytes, content_type: str = "application/json") -> bytes:
        return http_request(path, body, content_type=content_type, token=self.token, port=self.port)

    def factory(self, scenario: str) -> Callable[[int], bytes]:
        if scenario == "verify_hash_registered":
            bodies = [self.request("/v1/verify", _json_body(h)) for h in self.registered]
            return lambda i: bodies[i % len(bodies)]
        if scenario == "verify_hash_unregistered":
            return lambda i: self.request("/v1/verify", _json_body(_random_hash()))
        if scenario == "verify_file_1mib":
            content_type, body = multipart("file", "bench.bin", self.file_bytes)
            upload = self.request("/v1/verify", body, content_type)
            return lambda i: upload
        if scenario == "register_batched":
            return lambda i: self.request(
                "/v1/datasets/batch",
                json.dumps(
                    {
                        "records": [
                            {"content_hash": _random_hash(), "metadata": {"title": f"b{i}.{j}"}}
                            for j in range(self.batch_size)
                        ]
                    }
                ).encode(),
            )
        if scenario == "register_single":
            return lambda i: self.request(
                "/v1/datasets",
                json.dumps(
                    {"content_hash": _random_hash(), "metadata": {"title": f"bench {i}"}}
                ).encode(),
            )
        raise ValueError(scenario)


def _load(target: Target, scenario: str, count: int, args: argparse.Namespace) -> LoadResult:
    make = target.factory(scenario)
    # A write's warm-up is queued work that would be relayed or anchored during the measured
    # run: keep it to a few requests (50 bulk requests would be 5,000 records).
    warmup = min(args.warmup, 3) if scenario.startswith("register_") else args.warmup
    if warmup:
        run_load(
            target.port,
            lambda i: make(i + 10**9),
            requests=warmup,
            max_seconds=args.max_seconds,
            concurrency=min(args.concurrency, warmup),
        )
    return run_load(
        target.port,
        make,
        requests=count,
        max_seconds=args.max_seconds,
        concurrency=args.concurrency,
        keep_bodies=scenario.startswith("register_"),
    )


def _count(scenario: str, args: argparse.Namespace) -> int:
    if scenario == "verify_file_1mib":
        return int(args.upload_requests)
    if scenario == "register_single":
        return int(args.registrations)
    if scenario == "register_batched":
        return int(args.batch_requests)
    return int(args.requests)


def _check_answers(target: Target, service: bool) -> None:
    """The scenarios measure what they say: a seeded hash matches, a random one does not."""
    if not service:
        return
    with httpx2.Client(base_url=target.base, timeout=60) as client:
        client.headers["Authorization"] = f"Bearer {target.token}"
        seeded = client.post("/v1/verify", json={"content_hash": target.registered[0]}).json()
        fresh = client.post("/v1/verify", json={"content_hash": _random_hash()}).json()
        upload = client.post("/v1/verify", files={"file": ("f", target.file_bytes)}).json()
    if not (seeded["matched"] and seeded["authentic"]) or fresh["matched"]:
        raise RuntimeError(f"unexpected verdicts: {seeded} / {fresh}")
    if not (upload["matched"] and upload["size"] == len(target.file_bytes)):
        raise RuntimeError(f"unexpected upload verdict: {upload}")


def _confirmations(target: Target, result: LoadResult, args: argparse.Namespace) -> dict[str, Any]:
    """Wait for every acknowledged registration to settle; confirmed/s from the first request."""
    op_ids = [json.loads(body)["operation_id"] for body in result.bodies if b"operation_id" in body]
    started = time.perf_counter() - result.seconds
    with httpx2.Client(base_url=target.base, timeout=60) as client:
        client.headers["Authorization"] = f"Bearer {target.token}"
        statuses = settle(client, op_ids, args.poll_ms / 1000, max(60.0, args.max_seconds))
    seconds = time.perf_counter() - started
    done = statuses["confirmed"]
    return {
        "acknowledged": len(op_ids),
        "confirmed": done,
        **(
            {"not_confirmed": dict(statuses - Counter(confirmed=done))}
            if done < len(op_ids)
            else {}
        ),
        "confirmed_seconds": round(seconds, 2),
        "confirmed_per_s": round(done / seconds, 1) if seconds else 0.0,
    }


def _batched_records(target: Target, result: LoadResult, args: argparse.Namespace) -> Any:
    """Records/s of ``register_batched``: acknowledged, then confirmed (every record's
    operation settled, from the first request to the last confirmation)."""
    figures: dict[str, Any] = {
        "batch_size": args.batch_size,
        "records_acknowledged_per_s": round(result.per_second * args.batch_size, 1),
    }
    requests = [
        [record["operation_id"] for record in json.loads(body)["records"]]
        for body in result.bodies
        if b'"records"' in body
    ]
    started = time.perf_counter() - result.seconds
    with httpx2.Client(base_url=target.base, timeout=60) as client:
        client.headers["Authorization"] = f"Bearer {target.token}"
        # A request's records are queued in order, so its last one is in its latest batch:
        # when every request's last record has settled, so has every record (checked below,
        # untimed: polling thousands of operations one by one would be what is measured).
        settle(
            client, [ids[-1] for ids in requests], args.poll_ms / 1000, max(120.0, args.max_seconds)
        )
        seconds = time.perf_counter() - started
        statuses = settle(client, [i for ids in requests for i in ids], args.poll_ms / 1000, 0.0)
    done = statuses["confirmed"]
    figures |= {
        "records_acknowledged": sum(len(ids) for ids in requests),
        "records_confirmed": done,
        **(
            {"not_confirmed": dict(statuses - Counter(confirmed=done))}
            if done < sum(map(len, requests))
            else {}
        ),
        "records_confirmed_seconds": round(seconds, 2),
        "records_confirmed_per_s": round(done / seconds, 1) if seconds else 0.0,
    }
    return figures


def _profile_start(pid: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: pip install -e '.[bench]'")
    return subprocess.Popen(
        # Sampling without pausing the process, and not too often: a blocking 250 Hz py-spy
        # slowed the service tenfold.
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "100",
            "--nonblocking",
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _profile_stop(spy: subprocess.Popen[bytes], out: Path) -> dict[str, Any]:
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    return profile_summary(out.read_text())


def profile_summary(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares of functions in py-spy's collapsed stacks (``--format raw``),
    over the samples of all threads that were running Python."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1] for f in stack.split(";")[1:]]
        total += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    return {"samples": total, "self_pct": share(own), "inclusive_pct": share(inclusive)}


def run_target(
    kind: str, args: argparse.Namespace, scenarios: list[str], file_bytes: bytes
) -> dict[str, Any]:
    """Every scenario against the service (``kind == "service"``) or the baseline."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"bench-api-{kind}-") as tmp, ExitStack() as stack:
        data_dir = Path(tmp) / "data"
        if kind == "service":
            env, _ = prepare_anvil(stack, data_dir)
            base, pid = stack.enter_context(serve(data_dir, env))
            token = enrol_department(base, data_dir)
            registered = _seed(base, token, args, file_bytes)
        else:
            command = (str(REPO / "bench" / "trivial_app.py"),)
            base, pid = stack.enter_context(serve(data_dir, {}, command))
            token, registered = "baseline", [_random_hash() for _ in range(args.seed_hashes)]
        target = Target(base, token, registered, file_bytes, args.batch_size)
        _check_answers(target, kind == "service")
        for scenario in scenarios:
            spy = None
            profiled = scenario.startswith("verify_hash") or scenario == "register_batched"
            if args.profile and kind == "service" and profiled:
                profile_file = Path(args.profile) / f"{scenario}.txt"
                profile_file.parent.mkdir(parents=True, exist_ok=True)
                spy = _profile_start(pid, profile_file)
                time.sleep(1.0)  # py-spy attaches
            result = _load(target, scenario, _count(scenario, args), args)
            figures = summary(result, percentiles)
            if spy is not None:
                figures["profile"] = _profile_stop(spy, profile_file)
            if scenario == "register_single" and kind == "service":
                figures |= _confirmations(target, result, args)
            if scenario == "register_batched":
                figures |= (
                    _batched_records(target, result, args)
                    if kind == "service"
                    else {
                        "records_acknowledged_per_s": round(result.per_second * args.batch_size, 1)
                    }
                )
            out[scenario] = figures
    return out


def _seed(base: str, token: str, args: argparse.Namespace, file_bytes: bytes) -> list[str]:
    """Register ``--seed-hashes`` random hashes and the file's hash; wait until all confirm."""
    hashes = [_random_hash() for _ in range(args.seed_hashes)]
    file_hash = sha256_bytes(file_bytes).hex()
    with httpx2.Client(base_url=base, timeout=60) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        ops = []
        for content_hash in [*hashes, file_hash]:
            r = client.post(
                "/v1/datasets", json={"content_hash": content_hash, "metadata": {"title": "seed"}}
            )
            if r.status_code != 202:
                raise RuntimeError(f"seed: {r.status_code} {r.text}")
            ops.append(r.json()["operation_id"])
        for op in ops:
            confirm(client, op, 0.02)
    return hashes


def _ratio(service: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    if "per_s" not in service or not baseline.get("per_s"):
        return None
    return round(service["per_s"] / baseline["per_s"], 3)


def report(args: argparse.Namespace, scenarios: list[str]) -> dict[str, Any]:
    file_bytes = os.urandom(MIB)
    baseline = run_target("baseline", args, scenarios, file_bytes)
    service = run_target("service", args, scenarios, file_bytes)
    result: dict[str, Any] = {
        "command": " ".join(["python", "bench/api_load.py", *sys.argv[1:]]),
        "concurrency": args.concurrency,
        "loadavg_before": os.getloadavg()[0],
        "scenarios": {
            name: {
                "service": service[name],
                "baseline": baseline[name],
                "service_over_baseline": _ratio(service[name], baseline[name]),
            }
            for name in scenarios
        },
    }
    hashed = service.get("verify_hash_registered")
    if hashed and "per_s" in hashed:
        result["target_verify_by_hash"] = {
            "per_s": hashed["per_s"],
            "p99_ms": hashed["latency_ms"]["p99"],
            "met": hashed["per_s"] >= TARGET_VERIFY_PER_S
            and hashed["latency_ms"]["p99"] <= TARGET_VERIFY_P99_MS,
            "target": f">= {TARGET_VERIFY_PER_S:.0f}/s with p99 <= {TARGET_VERIFY_P99_MS:.0f} ms",
        }
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"\n== API load, {result['concurrency']} connections ({result['command']})")
    header = f"{'scenario':<26}{'server':<10}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}"
    print(header + "  ms   (ratio service/baseline)")
    for name, pair in result["scenarios"].items():
        for who in ("service", "baseline"):
            r = pair[who]
            if "skipped" in r:
                print(f"{name:<26}{who:<10}  skipped: {r['skipped']}")
                continue
            p = r["latency_ms"]
            extra = ""
            if who == "service" and pair["service_over_baseline"] is not None:
                extra = f"  ({pair['service_over_baseline']})"
            if "confirmed_per_s" in r:
                extra += f"  confirmed {r['confirmed']}/{r['acknowledged']}: "
                extra += f"{r['confirmed_per_s']}/s {r.get('not_confirmed', '')}"
            if "records_acknowledged_per_s" in r:
                extra += f"  records/s acknowledged {r['records_acknowledged_per_s']}"
            if "records_confirmed_per_s" in r:
                extra += f", confirmed {r['records_confirmed']}/{r['records_acknowledged']}: "
                extra += f"{r['records_confirmed_per_s']}/s {r.get('not_confirmed', '')}"
            if set(r["statuses"]) - {"200", "202"}:
                extra += f"  statuses {r['statuses']} {r.get('first_error', '')}"
            print(
                f"{name:<26}{who:<10}{r['per_s']:>9}{p['p50']:>8}{p['p95']:>8}{p['p99']:>8}"
                f"{p['max']:>8}{extra}"
            )
            if "profile" in r:
                prof = r["profile"]
                print(f"    profile ({prof['samples']} samples), self time:")
                for frame, pct in prof["self_pct"][:10]:
                    print(f"      {pct:>5}%  {frame}")
    if "target_verify_by_hash" in result:
        t = result["target_verify_by_hash"]
        verdict = "MET" if t["met"] else "MISSED"
        print(f"target verify by hash {t['target']}: {t['per_s']}/s p99 {t['p99_ms']} ms {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per verify-by-hash scenario")
    parser.add_argument("--upload-requests", type=int, default=300, help="1 MiB uploads")
    parser.add_argument("--registrations", type=int, default=1000)
    parser.add_argument("--batch-requests", type=int, default=30, help="bulk registrations")
    parser.add_argument("--batch-size", type=int, default=100, help="records per bulk request")
    parser.add_argument("--concurrency", type=int, default=16, help="connections")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="per scenario")
    parser.add_argument("--warmup", type=int, default=50, help="uncounted requests first")
    parser.add_argument("--seed-hashes", type=int, default=20)
    parser.add_argument("--poll-ms", type=float, default=20.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--profile", metavar="DIR", help="py-spy the service during verify")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    if unknown := set(scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios {sorted(unknown)}")
    counts = (args.requests, args.upload_requests, args.registrations, args.batch_requests)
    if min(*counts, args.batch_size, args.concurrency) < 1:
        parser.error("counts and --concurrency must be >= 1")
    if args.seed_hashes < 1:
        parser.error("--seed-hashes must be >= 1")
    result = report(args, scenarios)
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
