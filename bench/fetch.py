#!/usr/bin/env python
"""Sealed exchange end to end (issue 13): ``provledger register --seal`` and ``provledger fetch``
as a user runs them, against ``provledger serve`` on loopback, and the same-run baseline of the
same bytes downloaded raw.

    python bench/fetch.py [--size 1G] [--repeats 3] [--json]

Starts the installed ``provledger serve`` (embedded chain, SQLite) in a temporary data
directory, enrols two departments, publishes their encryption keys (hybrid ML-KEM-768 + X25519,
kept by the service), writes a file of ``--size`` bytes (a 16 MiB random block repeated),
registers it sealed as Health (timed once: seal + upload + registration confirmed) and grants
Transport. Then, ``--repeats`` times, interleaved:

* ``provledger fetch`` as Transport (a subprocess, wall time from fork to exit): the content key
  from the service, the sealed bytes downloaded over loopback and hashed as they arrive, every
  chunk opened and the plaintext hashed and written, the output published whole;
* the baseline: ``curl`` downloading the same sealed bytes from the same route to ``/dev/null``
  (transfer only: no hashing, no decryption, no file);
* and ``curl`` to a file, the transfer as a download to disk costs it.

MB/s are 10**6 plaintext bytes per second (the sealed bytes are 0.0024 % larger). Target
(issue 13): fetch over loopback >= 200 MB/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.testing import clean_environment, serve_process

TARGET_MB_S = 200
MiB = 1 << 20
BLOCK = 16 * MiB


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": MiB, "G": 1 << 30}
    text = text.strip().upper()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def provledger(*args: str, token: str, env: dict[str, str]) -> dict[str, Any]:
    command = [str(Path(sys.executable).parent / "provledger"), *args, "--json"]
    done = subprocess.run(
        command, env=env | {"PROVLEDGER_TOKEN": token}, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr.decode()}")
    return dict(json.loads(done.stdout))


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[0]}: exit {done.returncode}\n{done.stderr.decode()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=1 << 30, help="file size (default 1G)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (median)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        raise SystemExit("the baseline needs curl")
    work = Path(tempfile.mkdtemp(prefix="provledger-fetch-bench-"))
    url = f"http://127.0.0.1:{args.port}"
    env = clean_environment(DATA_DIR=str(work / "data"), PORT=str(args.port), URL=url)
    try:
        serve = [str(Path(sys.executable).parent / "provledger"), "serve"]
        with serve_process(serve, url=url, env=env, log_path=work / "serve.log"):
            return measure(args, work, url, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path, url: str, env: dict[str, str]) -> int:
    governance = (work / "data" / "governance.token").read_text().strip()
    tokens = {}
    for number, name in ((1, "Health"), (2, "Transport")):
        tokens[name] = provledger("dept", "enrol", str(number), name, token=governance, env=env)[
            "token"
        ]
        provledger("keys", "publish", token=tokens[name], env=env)
    source = work / "claims.bin"
    block = os.urandom(BLOCK)
    with source.open("wb") as out:
        for _ in range(args.size // BLOCK):
            out.write(block)
        out.write(block[: args.size % BLOCK])
    started = time.perf_counter()
    registered = provledger(
        "register", str(source), "--seal", "--title", "bench", token=tokens["Health"], env=env
    )
    register_seconds = time.perf_counter() - started
    dataset = registered["resource"]["dataset_id"]
    sealed = registered["resource"]["sealed"]
    asked = provledger(
        "access", "request", dataset, "--purpose", "bench", "--duration", "30d",
        token=tokens["Transport"], env=env,
    )  # fmt: skip
    provledger(
        "access", "approve", asked["resource"]["request_id"], "--expires-in", "7d",
        token=tokens["Health"], env=env,
    )  # fmt: skip
    blob_url = f"{url}/v1/datasets/{dataset}/versions/1/sealed"
    auth = f"Authorization: Bearer {tokens['Transport']}"
    fetch = [str(Path(sys.executable).parent / "provledger"), "fetch", dataset]
    runs: dict[str, list[float]] = {"fetch": [], "curl": [], "curl_file": []}
    for repeat in range(args.repeats + 1):  # the first round warms caches and is not counted
        output = work / f"received-{repeat}.bin"
        fetched = timed(
            [*fetch, "-o", str(output)], env | {"PROVLEDGER_TOKEN": tokens["Transport"]}
        )
        if repeat == 0 and output.read_bytes()[: 1 << 20] != block[: 1 << 20]:
            raise SystemExit("the fetched file is not the registered one")
        output.unlink()
        raw = timed(["curl", "-fsS", "-H", auth, "-o", "/dev/null", blob_url], env)
        to_file = timed(["curl", "-fsS", "-H", auth, "-o", str(work / "raw.bin"), blob_url], env)
        (work / "raw.bin").unlink()
        if repeat:
            runs["fetch"].append(fetched)
            runs["curl"].append(raw)
            runs["curl_file"].append(to_file)
    report = {
        "size_bytes": args.size,
        "sealed_bytes": sealed["size"],
        "register_seal_seconds": round(register_seconds, 2),
        "register_seal_mb_s": round(args.size / register_seconds / 1e6, 1),
        **{
            f"{name}_mb_s": round(args.size / statistics.median(times) / 1e6, 1)
            for name, times in runs.items()
        },
        **{
            f"{name}_mb_s_spread": [round(args.size / t / 1e6, 1) for t in (max(ts), min(ts))]
            for name, ts in runs.items()
        },
        "repeats": args.repeats,
        "target_mb_s": TARGET_MB_S,
    }
    report["fetch_vs_curl"] = round(report["fetch_mb_s"] / report["curl_mb_s"], 2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
