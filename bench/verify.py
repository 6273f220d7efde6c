#!/usr/bin/env python
"""Verification as auditors meet it: registered records never verified before, on-chain and
batched mixed, on the embedded default, next to a do-nothing baseline served the same way.

    python bench/verify.py [--records N] [--concurrency C] [--max-seconds S] [--json]

Set-up: ``python -m api serve`` of this checkout on a fresh data directory (the embedded chain,
no node), department 1 enrolled through the API, then ``--records`` datasets registered one by
one (``POST /v1/datasets``, each anchored by its own transaction) and ``--records`` batched
records (``POST /v1/datasets/batch``, 1,000 a request, anchored as Merkle roots), every one
confirmed before anything is measured. From ``--concurrency`` keep-alive connections
(``bench/_load.py``):

* ``verify_new``: ``POST /v1/verify`` of every registered hash once, on-chain and batched
  alternating: no verdict made before, so each takes the whole path (the registration's log,
  transaction and signature, the department's key at that block, the dataset's history and
  state; for a batched record its proof and anchor);
* ``verify_cached``: the same hashes again, each verdict kept since (``CACHED_ROUNDS`` times
  over).

``--profile DIR`` samples the service with py-spy during each (``pip install -e '.[bench]'``)
and prints where its time goes.

Baseline, same run, same client and connections: ``bench/trivial_app.py`` (an endpoint that
reads the body and answers a small JSON object) served by ``api.server.run`` exactly like the
service, sent the same requests. Targets (issue 11): ``verify_new`` >= 0.5x the baseline's
requests/s with p99 <= 50 ms; ``verify_cached`` >= 0.8x.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
from _load import http_request, run_load, summary
from _service import REPO, enrol_department, percentiles, serve, settle
from api_load import _profile_start, _profile_stop

TARGETS = {"verify_new": (0.5, 50.0), "verify_cached": (0.8, None)}
BATCH_REQUEST = 1_000
GROW_REQUEST = 10_000
CACHED_ROUNDS = 8


def _random_hash() -> str:
    return "0x" + os.urandom(32).hex()


def register(base: str, token: str, records: int) -> list[str]:
    """``records`` datasets one by one and ``records`` batched records, all confirmed; their
    hashes, on-chain and batched alternating."""
    on_chain = [_random_hash() for _ in range(records)]
    batched = [_random_hash() for _ in range(records)]
    with httpx2.Client(base_url=base, timeout=120) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        ops = []
        for i, content_hash in enumerate(on_chain):
            answer = client.post(
                "/v1/datasets", json={"content_hash": content_hash, "metadata": {"title": f"{i}"}}
            )
            if answer.status_code != 202:
                raise RuntimeError(f"register: {answer.status_code} {answer.text}")
            ops.append(answer.json()["operation_id"])
        for start in range(0, records, BATCH_REQUEST):
            chunk = batched[start : start + BATCH_REQUEST]
            body = {
                "records": [
                    {"content_hash": h, "metadata": {"title": f"b{start + j}"}}
                    for j, h in enumerate(chunk)
                ]
            }
            answer = client.post("/v1/datasets/batch", json=body)
            if answer.status_code != 202:
                raise RuntimeError(f"batch: {answer.status_code} {answer.text}")
            ops.extend(r["operation_id"] for r in answer.json()["records"])
        statuses = settle(client, ops, 0.05, timeout=600)
        if statuses != {"confirmed": len(ops)}:
            raise RuntimeError(f"not every record confirmed: {dict(statuses)}")
    return [h for pair in zip(on_chain, batched, strict=True) for h in pair]


def measure(
    base: str, token: str, hashes: list[str], args: argparse.Namespace, pid: int | None = None
) -> dict[str, Any]:
    port = int(base.rsplit(":", 1)[1])
    bodies = [
        http_request(
            "/v1/verify",
            json.dumps({"content_hash": h}).encode(),
            content_type="application/json",
            token=token,
            port=port,
        )
        for h in hashes
    ]
    out: dict[str, Any] = {}
    for scenario in ("verify_new", "verify_cached"):
        spy = None
        if args.profile and pid is not None:
            profile_file = Path(args.profile) / f"{scenario}.txt"
            profile_file.parent.mkdir(parents=True, exist_ok=True)
            spy = _profile_start(pid, profile_file)
            time.sleep(1.0)  # py-spy attaches
        # Cached answers take well under a second for a few hundred hashes: asked over
        # several rounds, so the figure is not one scheduling hiccup.
        rounds = CACHED_ROUNDS if scenario == "verify_cached" else 1
        result = run_load(
            port,
            lambda i: bodies[i % len(bodies)],
            requests=rounds * len(bodies),
            max_seconds=args.max_seconds,
            concurrency=args.concurrency,
        )
        out[scenario] = summary(result, percentiles)
        if spy is not None:
            out[scenario]["profile"] = _profile_stop(spy, profile_file)
    return out


def grow(base: str, token: str, count: int) -> None:
    """``count`` more batched records (filler: the ledger's size), all confirmed."""
    with httpx2.Client(base_url=base, timeout=600) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        last = []
        for start in range(0, count, GROW_REQUEST):
            n = min(GROW_REQUEST, count - start)
            records = [
                {"content_hash": _random_hash(), "metadata": {"title": "f"}} for _ in range(n)
            ]
            answer = client.post("/v1/datasets/batch", json={"records": records})
            if answer.status_code != 202:
                raise RuntimeError(f"grow: {answer.status_code} {answer.text}")
            last.append(answer.json()["records"][-1]["operation_id"])
        statuses = settle(client, last, 0.5, timeout=7200)
        if set(statuses) - {"confirmed"}:
            raise RuntimeError(f"filler not confirmed: {dict(statuses)}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else [0]
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp, ExitStack() as stack:
        data_dir = Path(tmp) / "baseline"
        command = (str(REPO / "bench" / "trivial_app.py"),)
        base, _ = stack.enter_context(serve(data_dir, {}, command))
        baseline = measure(
            base, "baseline", [_random_hash() for _ in range(2 * args.records)], args
        )
        stack.close()

        data_dir = Path(tmp) / "service"
        base, pid = stack.enter_context(serve(data_dir, {}))
        token = enrol_department(base, data_dir)
        by_size: dict[int, dict[str, Any]] = {}
        registered = 0
        for size in sizes:
            if size > registered:
                grow(base, token, size - registered)
                registered = size
            hashes = register(base, token, args.records)
            registered += 2 * args.records
            with httpx2.Client(base_url=base, timeout=60) as client:
                client.headers["Authorization"] = f"Bearer {token}"
                probe = client.post("/v1/verify", json={"content_hash": hashes[0]}).json()
            if not (probe["matched"] and probe["authentic"]):
                raise RuntimeError(f"a registered hash does not verify: {probe}")
            by_size[registered] = measure(base, token, hashes[1:], args, pid)

    result: dict[str, Any] = {
        "command": " ".join(["python", "bench/verify.py", *sys.argv[1:]]),
        "records": {"on_chain": args.records, "batched": args.records},
        "concurrency": args.concurrency,
        "sizes": {},
    }
    for size, service in by_size.items():
        scenarios: dict[str, Any] = {}
        for name, (ratio_target, p99_target) in TARGETS.items():
            ours, theirs = service[name], baseline[name]
            ratio = round(ours["per_s"] / theirs["per_s"], 3) if theirs["per_s"] else None
            met = ratio is not None and ratio >= ratio_target
            if p99_target is not None:
                met = met and ours["latency_ms"]["p99"] <= p99_target
            scenarios[name] = {
                "service": ours,
                "baseline": theirs,
                "ratio": ratio,
                "target": f">= {ratio_target}x baseline"
                + (f", p99 <= {p99_target:.0f} ms" if p99_target else ""),
                "met": met,
            }
        result["sizes"][size] = scenarios
    if len(by_size) > 1:
        ordered = list(by_size.values())
        first, last = ordered[0], ordered[-1]
        slower = first["verify_new"]["per_s"] / max(last["verify_new"]["per_s"], 1e-9)
        result["growth"] = {
            "from": min(by_size),
            "to": max(by_size),
            "verify_new_slower_x": round(slower, 2),
            "target": "<= 1.2x",
            "met": slower <= 1.2,
        }
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"\n== verification ({result['command']}), {result['concurrency']} connections")
    for size, scenarios in result["sizes"].items():
        print(f"-- ledger of {size:,} registered records" if size else "")
        head = ("scenario", "server", "req/s", "p50", "p95", "p99", "max")
        print(f"{head[0]:<16}{head[1]:<10}" + "".join(f"{h:>8}" for h in head[2:]) + "  ms")
        for name, pair in scenarios.items():
            for who in ("service", "baseline"):
                r = pair[who]
                p = r["latency_ms"]
                extra = ""
                if set(r["statuses"]) - {"200"}:
                    extra = f"  statuses {r['statuses']} {r.get('first_error', '')}"
                print(
                    f"{name:<16}{who:<10}{r['per_s']:>9}{p['p50']:>8}{p['p95']:>8}{p['p99']:>8}"
                    f"{p['max']:>8}{extra}"
                )
            verdict = "met" if pair["met"] else "MISSED"
            print(f"  ratio {pair['ratio']}x, target {pair['target']}: {verdict}")
            if "profile" in pair["service"]:
                prof = pair["service"]["profile"]
                print(f"    profile ({prof['samples']} samples), inclusive time:")
                for frame, pct in prof["inclusive_pct"]:
                    print(f"      {pct:>5}%  {frame}")
    if "growth" in result:
        g = result["growth"]
        verdict = "met" if g["met"] else "MISSED"
        print(
            f"growth {g['from']:,} -> {g['to']:,} records: verify_new {g['verify_new_slower_x']}x "
            f"slower, target {g['target']}: {verdict}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500, help="on chain, and as many batched")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="per scenario")
    parser.add_argument(
        "--sizes",
        help="grow the ledger with batched filler records to each of these sizes (comma "
        "separated) and measure at each: e.g. 10000,1000000",
    )
    parser.add_argument("--profile", help="sample the service with py-spy, stacks kept here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2)) if args.json else _print(result)
    met = all(s["met"] for scenarios in result["sizes"].values() for s in scenarios.values())
    return 0 if met and result.get("growth", {}).get("met", True) else 1


if __name__ == "__main__":
    sys.exit(main())
