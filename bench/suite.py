#!/usr/bin/env python
"""Every benchmark in a quick, bounded mode, one after another (``make bench``).

    python bench/suite.py [--only NAME,…] [--timeout SECONDS] [--list]

Each script prints its own figures and same-run baseline as it goes; this prints a summary at
the end (exit status and wall time of each). The quick sizes are for a look at the figures in
a few minutes on a 2-core machine; ``bench/RESULTS.md`` records the full-size runs and their
commands. Exit status 0 when every script exited 0; scripts exit 1 when one of their targets
is missed (gas, hashing, indexer) or when they fail; either way their output says which.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

#: name → the quick run's command line (bounded in count and time).
QUICK: dict[str, str] = {
    "gas": "gas.py --quiet",
    "hashing": "hashing.py --size 64M --repeats 3 --speed-seconds 1 --max-seconds 120 --no-cold"
    " --quiet",
    "indexer": "indexer.py --events 20000 --max-seconds 120 --quiet",
    "embedded_chain": "embedded_chain.py --records 200 --max-seconds 120 --index-seconds 60",
    "confirm_latency": "confirm_latency.py --requests 30 --concurrent-requests 40 --clients 4",
    "api_load": "api_load.py --requests 600 --upload-requests 50 --registrations 200"
    " --max-seconds 10",
    "growth": "growth.py --sizes 1000,5000 --requests 50 --max-seconds 30",
    "relayer": "relayer.py --records 1000 --naive-records 50 --embedded-records 50"
    " --max-seconds 60",
    "rpc": "rpc.py --datasets 100 --samples 20",
    "abuse": "abuse.py --quick",
    "faults": "faults.py --quick",
    "exchange": "exchange.py --size 64M --repeats 3 --chunk-sizes 64K,1M --wraps-seconds 1 --quiet",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated names (default: all)")
    parser.add_argument("--timeout", type=float, default=900.0, help="per script, seconds")
    parser.add_argument("--list", action="store_true", help="print the commands and stop")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(QUICK)
    if unknown := [n for n in names if n not in QUICK]:
        parser.error(f"unknown benchmarks {unknown}; known: {', '.join(QUICK)}")
    outcomes: list[tuple[str, str, float]] = []
    for name in names:
        script, *arguments = QUICK[name].split()
        command = [sys.executable, str(BENCH / script), *arguments]
        shown = f"python bench/{QUICK[name]}"
        if args.list:
            print(shown)
            continue
        print(f"\n##### {name}: {shown}", flush=True)
        started = time.monotonic()
        try:
            status = str(subprocess.run(command, timeout=args.timeout, check=False).returncode)
        except subprocess.TimeoutExpired:
            status = f"timed out after {args.timeout:.0f} s"
        outcomes.append((name, status, time.monotonic() - started))
    if args.list:
        return 0
    print("\n##### summary")
    for name, status, seconds in outcomes:
        print(f"{name:<16} exit {status:<24} {seconds:7.1f} s")
    return 0 if all(status == "0" for _, status, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
