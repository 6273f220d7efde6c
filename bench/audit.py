#!/usr/bin/env python
"""Bulk audits as auditors run them: a catalogue through the service, a folder against anvil.

    python bench/audit.py [--batched N] [--on-chain M] [--files F] [--chunk C] [--json]

**Through the service** (embedded default, ``python -m api serve`` of this checkout on a fresh
data directory): ``--batched`` records registered through ``POST /v1/datasets/batch`` (10,000
a request, anchored as Merkle roots) and ``--on-chain`` datasets one by one, all confirmed.
Every hash is then verified once, never before, in two halves (each mixed on-chain and
batched as registered):

* ``verify_batch``: ``POST /v1/verify/batch`` requests of ``--chunk`` hashes from one client;
  hashes/s and request latency. Baseline, same run: ``bench/trivial_app.py`` served the same
  way, sent the same bodies (an endpoint that reads the body and answers a small object);
* ``manifest``: the installed ``provledger verify --manifest FILE --url … --json`` over a
  ``sha256sum`` manifest of the other half, as a user runs it; the figure is the hashes/s it
  reports for checking (its wall time, start-up included, is printed too).

**Against the chain alone** (anvil from npm): ``--files`` files written to a folder, each
registered on chain by its department (``createDataset``; one in ten withdrawn afterwards), and
as many never registered; then the installed ``provledger verify DIR --rpc … --contract …
--json``: files/s for checking, hashing excluded (the command reports both). Baseline, same
run: the one-file verifier (``Verifier.verify``, what ``provledger verify FILE`` runs) over
200 of the files.

Targets (issue 11): bulk >= 20,000 hashes/s; folder audit >= 500 files/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
from _service import REPO, enrol_department, percentiles, serve, settle
from api_load import _profile_start, _profile_stop

TARGET_BULK = 20_000.0
TARGET_FOLDER = 500.0
REGISTER_REQUEST = 10_000
PROVLEDGER = Path(sys.executable).parent / "provledger"


def _hash() -> str:
    return "0x" + os.urandom(32).hex()


def register(base: str, token: str, batched: int, on_chain: int) -> list[str]:
    """Register and confirm; the hashes, on-chain ones spread evenly among the batched."""
    chain_hashes = [_hash() for _ in range(on_chain)]
    batch_hashes = [_hash() for _ in range(batched)]
    with httpx2.Client(base_url=base, timeout=300) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        last_ops = []
        for i, content_hash in enumerate(chain_hashes):
            body = {"content_hash": content_hash, "metadata": {"title": f"c{i}"}}
            answer = client.post("/v1/datasets", json=body)
            if answer.status_code != 202:
                raise RuntimeError(f"register: {answer.status_code} {answer.text}")
            last_ops.append(answer.json()["operation_id"])
        for start in range(0, batched, REGISTER_REQUEST):
            chunk = batch_hashes[start : start + REGISTER_REQUEST]
            records = [
                {"content_hash": h, "metadata": {"title": f"b{start + j}"}}
                for j, h in enumerate(chunk)
            ]
            answer = client.post("/v1/datasets/batch", json={"records": records})
            if answer.status_code != 202:
                raise RuntimeError(f"batch: {answer.status_code} {answer.text}")
            ops = [r["operation_id"] for r in answer.json()["records"]]
            last_ops.extend([*ops[:: max(1, len(ops) // 20)], ops[-1]])
        statuses = settle(client, last_ops, 0.2, timeout=1800)
        if set(statuses) != {"confirmed"}:
            raise RuntimeError(f"not every record confirmed: {dict(statuses)}")
    step = max(1, len(batch_hashes) // max(1, len(chain_hashes)))
    mixed = list(batch_hashes)
    for i, h in enumerate(chain_hashes):
        mixed.insert(min(len(mixed), i * (step + 1)), h)
    return mixed


def post_batches(base: str, token: str, hashes: list[str], chunk: int) -> dict[str, Any]:
    latencies, counts = [], {}
    started = time.perf_counter()
    with httpx2.Client(base_url=base, timeout=600) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for start in range(0, len(hashes), chunk):
            body = {"content_hashes": hashes[start : start + chunk]}
            t0 = time.perf_counter()
            answer = client.post("/v1/verify/batch", json=body)
            latencies.append(time.perf_counter() - t0)
            if answer.status_code != 200:
                raise RuntimeError(f"verify/batch: {answer.status_code} {answer.text[:300]}")
            for status, n in (answer.json().get("counts") or {}).items():
                counts[status] = counts.get(status, 0) + n
    elapsed = time.perf_counter() - started
    return {
        "hashes": len(hashes),
        "requests": len(latencies),
        "hashes_per_s": round(len(hashes) / elapsed),
        "request_ms": percentiles(latencies),
        "counts": counts,
    }


def run_manifest(
    base: str, token: str, hashes: list[str], folder: Path, chunk: int
) -> dict[str, Any]:
    manifest = folder / "SHA256SUMS"
    manifest.write_text("".join(f"{h[2:]}  file-{i:07d}.bin\n" for i, h in enumerate(hashes)))
    env = {**os.environ, "PROVLEDGER_TOKEN": token}
    command = [str(PROVLEDGER), "verify", "--manifest", str(manifest), "--url", base]
    command += ["--chunk", str(chunk), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"provledger verify --manifest: {done.returncode} {done.stderr}")
    report = json.loads(done.stdout)
    return {
        "hashes": report["files"],
        "hashes_per_s": round(report["files"] / report["checking_seconds"]),
        "wall_s": round(wall, 2),
        "counts": report["counts"],
    }


def service_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with ExitStack() as stack:
        data_dir = tmp / "baseline"
        base, _ = stack.enter_context(
            serve(data_dir, {}, (str(REPO / "bench" / "trivial_app.py"),))
        )
        fake = [_hash() for _ in range(args.batched // 2)]
        out["baseline"] = post_batches(base, "baseline", fake, args.chunk)
    with ExitStack() as stack:
        data_dir = tmp / "service"
        base, pid = stack.enter_context(serve(data_dir, {}))
        token = enrol_department(base, data_dir)
        t0 = time.perf_counter()
        hashes = register(base, token, args.batched, args.on_chain)
        out["registered_in_s"] = round(time.perf_counter() - t0, 1)
        half = len(hashes) // 2
        spy = None
        if args.profile:
            profile_file = Path(args.profile) / "verify_batch.txt"
            profile_file.parent.mkdir(parents=True, exist_ok=True)
            spy = _profile_start(pid, profile_file)
            time.sleep(1.0)  # py-spy attaches
        out["verify_batch"] = post_batches(base, token, hashes[:half], args.chunk)
        if spy is not None:
            out["verify_batch"]["profile"] = _profile_stop(spy, profile_file)
        out["manifest"] = run_manifest(base, token, hashes[half:], tmp, args.chunk)
    return out


def folder_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from eth_account import Account

    from ledger.chain.anvil import AnvilNode
    from ledger.chain.backend import Chain
    from ledger.chain.deploy import Ledger
    from ledger.chain.types import Classification, NewVersion
    from ledger.hashing import sha256_file
    from ledger.verifier import Verifier

    folder = tmp / "folder"
    folder.mkdir()
    paths = []
    for i in range(2 * args.files):
        path = folder / f"d{i % 10}" / f"file-{i:06d}.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(1024))
        paths.append(path)
    with AnvilNode() as node:
        chain = Chain.rpc(node.url)
        governance, department = Account.create(), Account.create()
        for account in (governance, department):
            chain.fund(account.address, 10**22)
        ledger = Ledger.deploy(chain, governance)
        ledger.departments.enrol_department(1, "Health", department.address, sender=governance)
        t0 = time.perf_counter()
        for i, path in enumerate(paths[: args.files]):
            salt = os.urandom(32)
            ledger.datasets.create_dataset(
                salt, Classification.PUBLIC, bytes(32), NewVersion(bytes(sha256_file(path))),
                sender=department,
            )  # fmt: skip
            if i % 10 == 9:
                gone = ledger.datasets.dataset_id_of(1, salt)
                ledger.datasets.withdraw_dataset(gone, bytes(32), sender=department)
        registered_in = time.perf_counter() - t0
        contract = ledger.deployment.dataset_registry
        command = [str(PROVLEDGER), "verify", str(folder), "--rpc", node.url]
        command += ["--contract", contract, "--chunk", str(args.chunk), "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise RuntimeError(f"provledger verify DIR: {done.returncode} {done.stderr}")
        report = json.loads(done.stdout)
        verifier = Verifier.at(chain, contract)
        sample = paths[:100] + paths[args.files : args.files + 100]
        digests = [sha256_file(p) for p in sample]
        t0 = time.perf_counter()
        for digest in digests:
            verifier.verify(digest)
        one_by_one = len(digests) / (time.perf_counter() - t0)
        chain.close()
    return {
        "files": report["files"],
        "registered_on_chain": args.files,
        "registered_in_s": round(registered_in, 1),
        "counts": report["counts"],
        "files_per_s": round(report["files"] / report["checking_seconds"]),
        "hashing_s": report["hashing_seconds"],
        "checking_s": report["checking_seconds"],
        "wall_s": round(wall, 2),
        "baseline_one_by_one_per_s": round(one_by_one, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batched", type=int, default=40_000)
    parser.add_argument("--on-chain", type=int, default=200)
    parser.add_argument("--files", type=int, default=2_000, help="registered, and as many not")
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--skip-folder", action="store_true")
    parser.add_argument("--profile", help="sample the service with py-spy, stacks kept here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"command": " ".join(["python", "bench/audit.py", *sys.argv[1:]])}
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        if not args.skip_service:
            result["service"] = service_part(args, Path(tmp))
        if not args.skip_folder:
            result["folder"] = folder_part(args, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"\n== bulk audits ({result['command']})")
    if "service" in result:
        s = result["service"]
        print(f"ledger: {args.batched} batched + {args.on_chain} on-chain records "
              f"(registered and confirmed in {s['registered_in_s']} s)")  # fmt: skip
        for name in ("verify_batch", "baseline"):
            r = s[name]
            p = r["request_ms"]
            print(f"  {name:<13} {r['hashes_per_s']:>8} hashes/s  {r['requests']} requests of "
                  f"{args.chunk}: p50 {p['p50']} ms p99 {p['p99']} ms  {r['counts']}")  # fmt: skip
        m = s["manifest"]
        print(f"  manifest      {m['hashes_per_s']:>8} hashes/s  (installed command, wall "
              f"{m['wall_s']} s for {m['hashes']})  {m['counts']}")  # fmt: skip
        best = min(s["verify_batch"]["hashes_per_s"], m["hashes_per_s"])
        print(
            f"  target >= {TARGET_BULK:,.0f} hashes/s: {'met' if best >= TARGET_BULK else 'MISSED'}"
        )
    if "folder" in result:
        f = result["folder"]
        print(f"folder on anvil: {f['files']} files ({f['registered_on_chain']} registered "
              f"on chain, one in ten withdrawn): {f['counts']}")  # fmt: skip
        print(f"  provledger verify DIR  {f['files_per_s']:>6} files/s checking "
              f"({f['checking_s']} s; hashing {f['hashing_s']} s; "
              f"wall {f['wall_s']} s)")  # fmt: skip
        print(f"  baseline one by one    {f['baseline_one_by_one_per_s']:>6} files/s")
        met = f["files_per_s"] >= TARGET_FOLDER
        print(f"  target >= {TARGET_FOLDER:.0f} files/s: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
