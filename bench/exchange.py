#!/usr/bin/env python
"""Sealed exchange (issue 13): sealing and opening throughput and memory against one-call
AES-256-GCM, by chunk size, and HPKE key wrapping per second for both suites.

    python bench/exchange.py [--size 1G] [--chunk-sizes 64K,256K,1M,4M] [--repeats 3]
                             [--wraps-seconds 2] [--no-in-memory]
                             [--json | --markdown]

One file of ``--size`` bytes (default 1 GiB; a 16 MiB random block repeated) is written once
to a temporary directory and read once into the page cache. Then, ``--repeats`` times,
interleaved so that a change of load hits them all alike, each in a child process of its own
(so that its peak RSS is its own):

* ``seal`` (``ledger.sealing.seal``) file to file, at each chunk size: AES-256-GCM, the
  plaintext's and the sealed bytes' SHA-256, reading and writing, in one pass;
* ``open`` (``ledger.sealing.open_sealed``) of that sealed file to a file, at each chunk size,
  with the plaintext's SHA-256;
* unless ``--no-in-memory``, both again with the file in memory and the output discarded
  (no page-cache copies: what the chunk size changes);
* the same-run baseline: ``AESGCM.encrypt`` and ``AESGCM.decrypt`` of the whole file in one
  call of ``cryptography``, the file already in memory (timed without reading it); and, as a
  stricter reference without a target, ``AESGCM.encrypt_into`` one call into an output buffer
  already touched (AES-GCM alone, no page faults for a fresh buffer). It needs the file three
  times in memory, so it is skipped above ``--baseline-max`` (default 2 GiB).

Each child reports its seconds (timed inside, interpreter start-up excluded), its RSS before
the work and its peak RSS (``VmHWM``) after: sealing and opening must not grow with the file.
Then, in this process, HPKE wrap and unwrap of a 32-byte content key per second for both
suites (``ledger.sealing.wrap_content_key`` / ``unwrap_content_key``).

Targets (issue 13): seal and open at >= 0.5x the one-call AES-256-GCM of the same bytes
(median MB/s at the default chunk size; and per CPU second, the steadier figure on a shared
machine), with flat memory (peak RSS over RSS before <= 64 MiB). MB/s are 10**6 bytes per
second; sizes are in binary units.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Measure the checkout this script is in, even when another checkout is the one installed in
# the virtualenv (worktrees share one).
sys.path.insert(0, str(ROOT))

from bench.hashing import _print, _size, parse_size, warm, write_file  # noqa: E402
from ledger.hashing import Digest, sha256_file  # noqa: E402
from ledger.sealing import (  # noqa: E402
    DEFAULT_CHUNK_SIZE,
    EncryptionKeyPair,
    KeyBinding,
    Suite,
    unwrap_content_key,
    wrap_content_key,
)

MiB = 1 << 20
GiB = 1 << 30
TARGET_RATIO = 0.5
TARGET_EXTRA_RSS = 64 * MiB
ENCRYPT = "AESGCM.encrypt, one call (baseline)"
DECRYPT = "AESGCM.decrypt, one call (baseline)"
INTO = "AESGCM.encrypt_into, one call, output buffer already touched (reference)"

# Children run ``python -c HARNESS``: CODE defines run() -> the wall-clock and CPU seconds of
# the measured work (``since(clock())``); the harness reports them with the RSS before and the
# peak RSS after. CPU seconds are the steadier figure on a machine shared with other work.
_HARNESS = """
import json, sys, time
sys.path.insert(0, {root!r})
def kib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
def clock():
    return time.perf_counter(), time.process_time()
def since(started):
    return {{"seconds": time.perf_counter() - started[0], "cpu": time.process_time() - started[1]}}
key = bytes.fromhex({key!r})
{code}
before = kib("VmRSS")
timing = run({source!r}, {target!r}, {chunk_size})
print(json.dumps({{**timing, "rss_before_kib": before, "peak_rss_kib": kib("VmHWM")}}))
"""
_SEAL = """
from ledger.sealing import seal
def run(source, target, chunk_size):
    with open(source, "rb") as reader, open(target, "wb") as writer:
        started = clock()
        seal(reader, writer, key, chunk_size=chunk_size)
        return since(started)
"""
_OPEN = """
from ledger.sealing import open_sealed
def run(source, target, chunk_size):
    with open(source, "rb") as reader, open(target, "wb") as writer:
        started = clock()
        open_sealed(reader, writer, key)
        return since(started)
"""
# The same in memory, the output discarded: the cryptography and hashing without the page
# cache's copies, which is what the chunk size changes.
_IN_MEMORY = """
import io
from ledger.sealing import open_sealed, seal
class Discard(io.RawIOBase):
    def writable(self):
        return True
    def write(self, data):
        return len(data)
def run(source, target, chunk_size):
    with open(source, "rb") as reader:
        data = reader.read()
    sealed = io.BytesIO()
    started = clock()
    seal(io.BytesIO(data), Discard(), key, chunk_size=chunk_size)
    sealing = since(started)
    seal(io.BytesIO(data), sealed, key, chunk_size=chunk_size)
    sealed.seek(0)
    started = clock()
    open_sealed(sealed, Discard(), key)
    print(json.dumps(since(started)))
    return sealing
"""
_ONE_CALL = """
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
def run(source, target, chunk_size):
    with open(source, "rb") as reader:
        data = reader.read()
    aead, nonce = AESGCM(key), bytes(12)
    started = clock()
    sealed = aead.encrypt(nonce, data, None)
    encrypting = since(started)
    started = clock()
    aead.decrypt(nonce, sealed, None)
    print(json.dumps(since(started)))
    # Into memory already touched: AES-GCM alone, without the kernel's page faults for a fresh
    # output buffer (a stricter reference than the target's).
    buffer = bytearray(len(sealed))
    started = clock()
    aead.encrypt_into(nonce, data, None, buffer)
    print(json.dumps(since(started)))
    return encrypting
"""


@dataclass
class Row:
    """One operation's runs over the file."""

    name: str
    size: int
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    extra_rss: list[int] = field(default_factory=list)  # peak RSS - RSS before, bytes
    peak_rss: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median MB/s."""
        return statistics.median(self.size / s / 1e6 for s in self.seconds)

    @property
    def cpu_median(self) -> float:
        """Median MB per CPU second (user + system of the process doing the work)."""
        return statistics.median(self.size / max(c, 1e-9) / 1e6 for c in self.cpu)

    def spread(self) -> str:
        rates = [self.size / s / 1e6 for s in self.seconds]
        return f"{min(rates):.0f}-{max(rates):.0f} (n={len(rates)})"


def run_child(
    code: str, key: bytes, source: Path, target: Path, chunk_size: int
) -> list[dict[str, Any]]:
    harness = _HARNESS.format(
        root=str(ROOT),
        key=key.hex(),
        code=code,
        source=str(source),
        target=str(target),
        chunk_size=chunk_size,
    )
    done = subprocess.run(
        [sys.executable, "-c", harness], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"child failed: {done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def record(row: Row, report: dict[str, Any]) -> None:
    row.seconds.append(report["seconds"])
    row.cpu.append(report["cpu"])
    if "peak_rss_kib" not in report:
        return
    row.peak_rss.append(report["peak_rss_kib"] * 1024)
    row.extra_rss.append((report["peak_rss_kib"] - report["rss_before_kib"]) * 1024)


def wraps_per_second(seconds: float) -> dict[str, dict[str, float]]:
    """HPKE wrap and unwrap of a content key per second, per suite."""
    binding = KeyBinding(
        chain_id=31337,
        registry="0x" + "11" * 20,
        dataset_id=bytes(32),
        sealed_sha256=Digest(bytes(32)),
        recipient_department=2,
    )
    content_key = secrets.token_bytes(32)
    found: dict[str, dict[str, float]] = {}
    for suite in Suite:
        key = EncryptionKeyPair.generate(suite)
        wrapped = wrap_content_key(content_key, key.public_key, binding)
        found[suite.label] = {
            "wrap": _per_second(
                lambda k=key: wrap_content_key(content_key, k.public_key, binding), seconds
            ),
            "unwrap": _per_second(
                lambda k=key, w=wrapped: unwrap_content_key(w, k, binding), seconds
            ),
        }
    return found


def _per_second(work: Callable[[], object], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        work()
        count += 1
    return count / elapsed


class Bench:
    def __init__(self, args: argparse.Namespace, log: Callable[[str], None]) -> None:
        self.args = args
        self.log = log
        self.rows: dict[str, Row] = {}
        self.wraps: dict[str, dict[str, float]] = {}

    def run(self, work: Path) -> None:
        args = self.args
        plain, sealed, opened = work / "plain.bin", work / "sealed.bin", work / "opened.bin"
        self.log(f"writing {_size(args.size)}")
        digest = write_file(plain, args.size)
        warm(plain)
        key = secrets.token_bytes(32)
        baseline = args.size <= args.baseline_max
        for repeat in range(args.repeats):
            for chunk_size in args.chunk_sizes:
                label = _size_label(chunk_size)
                for name, code, source, target in (
                    (f"seal, {label} chunks", _SEAL, plain, sealed),
                    (f"open, {label} chunks", _OPEN, sealed, opened),
                ):
                    row = self.rows.setdefault(name, Row(name, args.size))
                    record(row, run_child(code, key, source, target, chunk_size)[-1])
                if repeat == 0 and sha256_file(opened).value.hex() != digest:
                    raise RuntimeError("the opened file differs from the plaintext")
                if args.in_memory:
                    opening, sealing = run_child(_IN_MEMORY, key, plain, plain, chunk_size)
                    for op, report in (("seal", sealing), ("open", opening)):
                        name = f"{op}, in memory, {label} chunks"
                        record(self.rows.setdefault(name, Row(name, args.size)), report)
            if baseline:
                reports = run_child(_ONE_CALL, key, plain, plain, 0)
                for name, report in zip((DECRYPT, INTO, ENCRYPT), reports, strict=True):
                    record(self.rows.setdefault(name, Row(name, args.size)), report)
            self.log(
                f"repetition {repeat + 1}: "
                + ", ".join(f"{n} {r.size / r.seconds[-1] / 1e6:.0f}" for n, r in self.rows.items())
            )
        self.wraps = wraps_per_second(args.wraps_seconds)

    def targets(self) -> list[dict[str, Any]]:
        label = _size_label(DEFAULT_CHUNK_SIZE)
        found = []
        for op, base in (("seal", ENCRYPT), ("open", DECRYPT)):
            row = self.rows.get(f"{op}, {label} chunks")
            if row is None:
                continue
            if base in self.rows:
                reference = self.rows[base]
                for ratio, per in (
                    (row.median / reference.median, "MB/s"),
                    (row.cpu_median / reference.cpu_median, "MB per CPU second"),
                ):
                    found.append(
                        {
                            "target": f"{op} ({label} chunks) >= 0.5x {base} (median {per})",
                            "value": round(ratio, 2),
                            "unit": "x",
                            "pass": ratio >= TARGET_RATIO,
                        }
                    )
            extra = max(row.extra_rss)
            found.append(
                {
                    "target": f"{op} ({label} chunks): peak RSS - RSS before <= 64 MiB",
                    "value": round(extra / MiB, 1),
                    "unit": "MiB",
                    "pass": extra <= TARGET_EXTRA_RSS,
                }
            )
        return found

    def table(self) -> tuple[list[str], list[list[str]]]:
        headers = ["Operation", "File", "MB/s median", "spread", "MB/CPU-s", "peak RSS"]
        headers.append("RSS over before")
        rows = []
        for row in self.rows.values():
            rows.append(
                [
                    row.name,
                    _size(row.size),
                    f"{row.median:.0f}",
                    row.spread(),
                    f"{row.cpu_median:.0f}",
                    _size(max(row.peak_rss)) if row.peak_rss else "",
                    _size(max(row.extra_rss)) if row.extra_rss else "",
                ]
            )
        for suite, rates in self.wraps.items():
            for op, rate in rates.items():
                rows.append([f"HPKE {op}, {suite}", "32 B", f"{rate:.0f} /s", "", "", "", ""])
        return headers, rows


def _size_label(size: int) -> str:
    return f"{size // MiB} MiB" if size % MiB == 0 else f"{size // 1024} KiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=GiB, help="file size (default 1G)")
    parser.add_argument(
        "--chunk-sizes",
        type=lambda text: [parse_size(part) for part in text.split(",")],
        default=[64 * 1024, 256 * 1024, MiB, 4 * MiB],
        help="chunk sizes to seal and open with (default 64K,256K,1M,4M)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (median)")
    parser.add_argument(
        "--baseline-max", type=parse_size, default=2 * GiB, help="largest file for the baseline"
    )
    parser.add_argument(
        "--no-in-memory", dest="in_memory", action="store_false", help="skip the in-memory runs"
    )
    parser.add_argument("--wraps-seconds", type=float, default=2, help="per HPKE measurement")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object")
    out.add_argument("--markdown", action="store_true", help="a Markdown table")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    args.repeats = max(1, args.repeats)

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[exchange] {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    bench = Bench(args, log)
    with tempfile.TemporaryDirectory(prefix="provledger-bench-exchange-", dir=args.dir) as tmp:
        bench.run(Path(tmp))
    targets = bench.targets()
    if args.json:
        print(
            json.dumps(
                {
                    "bytes": args.size,
                    "rows": [
                        {
                            "operation": r.name,
                            "mb_per_s_median": round(r.median, 1),
                            "mb_per_s": [round(r.size / s / 1e6, 1) for s in r.seconds],
                            "mb_per_cpu_s_median": round(r.cpu_median, 1),
                            "peak_rss_bytes": max(r.peak_rss) if r.peak_rss else None,
                            "extra_rss_bytes": max(r.extra_rss) if r.extra_rss else None,
                        }
                        for r in bench.rows.values()
                    ],
                    "hpke_per_second": bench.wraps,
                    "targets": targets,
                    "all_targets_pass": all(t["pass"] for t in targets),
                    "elapsed_s": round(time.monotonic() - started, 1),
                }
            )
        )
    else:
        headers, rows = bench.table()
        _print(headers, rows, args.markdown)
        print()
        for t in targets:
            verdict = "PASS" if t["pass"] else "FAIL"
            print(
                f"{'- **' + verdict + '**' if args.markdown else verdict} {t['target']}: "
                f"{t['value']} {t['unit']}"
            )
        print(f"\nelapsed {time.monotonic() - started:.1f} s")
    return 0 if all(t["pass"] for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
