#!/usr/bin/env python
"""How long the installed ``provledger`` command takes to start, as a user runs it.

    python bench/startup.py [--runs N] [--json]

Runs each command ``--runs`` times as a subprocess (wall time, from fork to exit) and prints
min / p50 / p90: ``provledger --help``, ``provledger hash FILE`` (a 1 KiB file: start-up, not
hashing) and, as the same-run baseline, the bare interpreter (``python -c pass``) and the
interpreter importing only the CLI library (``python -c "import typer"``). Target (issue 12):
light commands in <= 0.15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 0.15


def timed(command: list[str], runs: int) -> dict[str, float]:
    subprocess.run(command, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "min": round(times[0], 4),
        "p50": round(statistics.median(times), 4),
        "p90": round(times[int(0.9 * (len(times) - 1))], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    installed = Path(sys.executable).parent / "provledger"
    if not installed.exists():
        raise SystemExit(f"no installed provledger next to {sys.executable}: pip install -e .")
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.csv"
        small.write_bytes(os.urandom(1024))
        commands = {
            "python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "python -c 'import typer' (baseline)": [sys.executable, "-c", "import typer"],
            "provledger --help": [str(installed), "--help"],
            "provledger hash FILE": [str(installed), "hash", str(small)],
        }
        figures: dict[str, Any] = {name: timed(cmd, args.runs) for name, cmd in commands.items()}
    # The console script imports whichever ``api`` comes first on the path (PYTHONPATH before
    # an editable install): say which code was measured.
    measured = subprocess.run(
        [sys.executable, "-c", "import api; print(api.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    result = {
        "command": " ".join(["python", "bench/startup.py", *sys.argv[1:]]),
        "code": str(Path(measured).parent.parent),
        "runs": args.runs,
        "seconds": figures,
        "target_seconds": TARGET_SECONDS,
        "met": all(
            figures[name]["p50"] <= TARGET_SECONDS
            for name in ("provledger --help", "provledger hash FILE")
        ),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"\n== start-up ({result['command']}), {args.runs} runs each, wall seconds")
    print(f"  code measured: {result['code']}")
    print(f"{'command':40s} {'min':>7s} {'p50':>7s} {'p90':>7s}")
    for name, f in figures.items():
        print(f"{name:40s} {f['min']:7.3f} {f['p50']:7.3f} {f['p90']:7.3f}")
    verdict = "met" if result["met"] else "MISSED"
    print(f"  target: light commands p50 <= {TARGET_SECONDS} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
