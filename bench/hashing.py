#!/usr/bin/env python
"""Streaming file hashing: provledger's ``sha256_file`` against the standard library and
OpenSSL on the same file, peak memory of each hasher, and the service hashing an upload.

    python bench/hashing.py [--size 1G] [--repeats 5] [--max-seconds 600] [--no-service]
                            [--no-cold] [--json | --markdown]

One file of ``--size`` bytes (default 1 GiB; a 16 MiB random block repeated: SHA-256 does not
care) is written once to a temporary directory, read once to put it in the page cache, then
hashed ``--repeats`` times by each hasher, the hashers interleaved so that a load changing
during the run hits them all alike. Every figure is the median, with the spread (min-max).
The runs are **warm**: the file is read from the page cache, so they measure hashing, not the
disk. With ``--cold`` left on, one extra run of each Python hasher first evicts the file from
the page cache (``posix_fadvise(DONTNEED)`` on that file only; dropping every cache with
``/proc/sys/vm/drop_caches`` would disturb whatever else runs on the machine) and so reads it
from the disk, or from whatever cache the hypervisor keeps ("cold-ish").

Hashers, each in a child process of its own so its peak RSS (``VmHWM``, from ``wait4``) is its
own:

* ``provledger sha256_file`` (``ledger.hashing``; 1 MiB ``readinto`` buffer), timed inside
  the child (interpreter start-up excluded), which also reports its RSS just before hashing;
* ``hashlib.file_digest`` (same-run baseline, the target's reference; 256 KiB buffer), timed
  the same way;
* ``openssl dgst -sha256 FILE`` and ``sha256sum FILE``, timed by wall clock around the process
  (start-up included: a few ms on a 1 GiB file);
* ``openssl speed -evp sha256 -bytes 16384 -seconds N``: OpenSSL's in-memory ceiling, no I/O;
* the same ``sha256_file`` on a file 8 times smaller, to show that peak memory does not follow
  the file size.

Then, unless ``--no-service``, the real service: ``python -m api serve`` on a free loopback
port with a temporary ``PROVLEDGER_DATA_DIR`` (embedded chain, SQLite), and the same file POSTed
to ``/v1/verify`` as ``multipart/form-data`` and as ``application/octet-stream``, streamed from
disk with an exact ``Content-Length``. The server's peak RSS is reset before each upload
(``/proc/<pid>/clear_refs``) and read after it (``VmHWM``), next to its RSS before; the digest
it answers must equal the file's.

Targets (issue 4): ``sha256_file`` at >= 90% of ``hashlib.file_digest`` (median GB/s), and
constant memory: hashing the file raises a hasher's or the service's peak RSS by at most
64 MiB over its RSS before, at 1/8 of the size and at the full size alike.

GB/s are 10**9 bytes per second (as ``openssl speed``); sizes are in binary units.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Measure the checkout this script is in, even when another checkout is the one installed in
# the virtualenv (worktrees share one).
sys.path.insert(0, str(ROOT))

MiB = 1 << 20
GiB = 1 << 30
BLOCK = 16 * MiB
TARGET_RATIO = 0.90
TARGET_EXTRA_RSS = 64 * MiB
OPENSSL_SPEED_BYTES = 16_384

# The Python hashers run as ``python -c HARNESS + CODE``: a child imports only what its hasher
# needs (plus, for the "after importing the service" variants, the service's modules, which
# leaves the allocator in the state a long-running service process has). CODE defines
# run(path) -> hex digest; the harness times it and reports RSS before and peak RSS after.
_HARNESS = """
import json, sys, time
sys.path.insert(0, {root!r})
def kib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
{code}
before = kib("VmRSS")
started = time.perf_counter()
digest = run({path!r})
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "digest": digest, "rss_before_kib": before,
                  "peak_rss_kib": kib("VmHWM")}}))
"""
_SHA256_FILE = """
from ledger.hashing import sha256_file
def run(path):
    return sha256_file(path).value.hex()
"""
_FILE_DIGEST = """
import hashlib
def run(path):
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
"""
_SERVICE_IMPORTS = "import api.app\n"
PYTHON_HASHERS = {
    "sha256_file": _SHA256_FILE,
    "sha256_file, after importing the service": _SERVICE_IMPORTS + _SHA256_FILE,
    "hashlib.file_digest": _FILE_DIGEST,
    "hashlib.file_digest, after importing the service": _SERVICE_IMPORTS + _FILE_DIGEST,
}
EXTERNAL_HASHERS = {
    "openssl dgst -sha256": ["openssl", "dgst", "-sha256", "-r"],
    "sha256sum": ["sha256sum"],
}
OURS = ("sha256_file", "sha256_file, after importing the service")
BASELINES = ("hashlib.file_digest", "hashlib.file_digest, after importing the service")
SMALL = "sha256_file, 1/8 size"


# --- child processes ---------------------------------------------------------------------------


def _status_kib(pid: int | str, key: str) -> int:
    """A ``VmRSS``/``VmHWM``… line of ``/proc/<pid>/status``, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


@dataclass
class Run:
    seconds: float
    peak_rss: int  # bytes, VmHWM of the process
    rss_before: int | None = None  # bytes, RSS just before hashing (Python hashers)
    digest: str | None = None


def run_process(argv: list[str]) -> tuple[float, int, str]:
    """Run ``argv`` to the end: wall-clock seconds, peak RSS (bytes), stdout.

    The peak is ``VmHWM`` sampled every 10 ms while the process runs, not ``ru_maxrss`` from
    ``wait4``: Linux carries the parent's RSS at ``fork`` into the child's ``ru_maxrss``, so a
    small tool started from this (larger) process would look as large as it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT)
        peak = 0
        while process.poll() is None:
            with suppress(OSError, RuntimeError):  # exiting: the last sample stands
                peak = max(peak, _status_kib(process.pid, "VmHWM"))
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {err.read().decode(errors='replace')}")
        return seconds, peak * 1024, out.read().decode()


def run_hasher(name: str, path: Path) -> Run:
    """Hash ``path`` with the hasher called ``name`` in a child process of its own."""
    if name in EXTERNAL_HASHERS:
        seconds, peak, out = run_process([*EXTERNAL_HASHERS[name], str(path)])
        return Run(seconds=seconds, peak_rss=peak, digest=out.split()[0].lstrip("*"))
    code = _HARNESS.format(root=str(ROOT), code=PYTHON_HASHERS[name], path=str(path))
    _, _, out = run_process([sys.executable, "-c", code])
    reported = json.loads(out)
    return Run(
        seconds=reported["seconds"],
        peak_rss=reported["peak_rss_kib"] * 1024,
        rss_before=reported["rss_before_kib"] * 1024,
        digest=reported["digest"],
    )


def openssl_speed(seconds: int) -> float:
    """``openssl speed -evp sha256 -bytes 16384``: bytes per second (in memory, no I/O)."""
    argv = ["openssl", "speed", "-evp", "sha256", "-bytes", str(OPENSSL_SPEED_BYTES)]
    _, _, out = run_process([*argv, "-seconds", str(seconds)])
    # The last line is "sha256  <thousands of bytes per second>k".
    match = re.search(r"^\S*sha256\s+([\d.]+)k\s*$", out, re.MULTILINE | re.IGNORECASE)
    if match is None:
        raise RuntimeError(f"cannot read openssl speed's output: {out!r}")
    return float(match.group(1)) * 1000


# --- the file ----------------------------------------------------------------------------------


def write_file(path: Path, size: int) -> str:
    """Write ``size`` bytes (a random block repeated) and return their SHA-256 hex."""
    block = secrets.token_bytes(min(BLOCK, size))
    hasher = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            out.write(piece)
            hasher.update(piece)
            left -= len(piece)
        out.flush()
        os.fsync(out.fileno())  # clean pages: fadvise(DONTNEED) can then evict them
    return hasher.hexdigest()


def warm(path: Path) -> None:
    with path.open("rb", buffering=0) as stream:
        buffer = bytearray(MiB)
        while stream.readinto(buffer):
            pass


def evict(path: Path) -> None:
    """Drop this file's pages from the page cache (clean pages only; nothing else is touched)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


# --- the service -------------------------------------------------------------------------------


@dataclass
class Upload:
    kind: str  # "multipart" or "octet-stream"
    seconds: float
    rss_before: int
    peak_rss: int
    peak_reset: bool  # whether VmHWM was reset before the upload (else it includes start-up)
    status: int
    digest: str | None


@contextmanager
def service(
    data_dir: Path, max_upload: int, log: Callable[[str], None]
) -> Iterator[tuple[int, int]]:
    """``python -m api serve`` on a free loopback port; yields (pid, port) and always stops it."""
    from ledger.chain.anvil import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVLEDGER_")}
    env |= {
        "PROVLEDGER_DATA_DIR": str(data_dir),
        "PROVLEDGER_PORT": str(port),
        "PROVLEDGER_MAX_UPLOAD_BYTES": str(max_upload),
    }
    with (data_dir.parent / "serve.log").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "serve"], env=env, cwd=ROOT, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the service did not come up: " + (data_dir.parent / "serve.log").read_text()
                )
            time.sleep(0.2)
        log(f"service up on 127.0.0.1:{port} (pid {process.pid})")
        yield process.pid, port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def upload(pid: int, port: int, token: str, path: Path, kind: str) -> Upload:
    """POST ``path`` to /v1/verify, streamed from disk, and read the server's memory."""
    size = path.stat().st_size
    if kind == "multipart":
        boundary = "provledger-bench-" + secrets.token_hex(8)
        head = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
    else:
        head, tail, content_type = b"", b"", "application/octet-stream"
    rss_before = _status_kib(pid, "VmRSS") * 1024
    try:
        # "5" resets the peak RSS to the current RSS (proc(5)), so VmHWM after is this upload's.
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.putrequest("POST", "/v1/verify")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(len(head) + size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with path.open("rb", buffering=0) as stream:
        buffer = bytearray(MiB)
        view = memoryview(buffer)
        while count := stream.readinto(buffer):
            connection.send(view[:count])
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    seconds = time.perf_counter() - started
    connection.close()
    answer = json.loads(body) if body else {}
    digest = answer.get("content_hash")
    return Upload(
        kind=kind,
        seconds=seconds,
        rss_before=rss_before,
        peak_rss=_status_kib(pid, "VmHWM") * 1024,
        peak_reset=reset,
        status=response.status,
        digest=digest[2:] if isinstance(digest, str) else None,
    )


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One hasher's runs over one file."""

    name: str
    size: int
    runs: list[Run] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [self.size / r.seconds / 1e9 for r in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.rates())

    @property
    def peak_rss(self) -> int:
        return max(r.peak_rss for r in self.runs)

    @property
    def extra_rss(self) -> int | None:
        """Peak RSS over the RSS just before hashing (worst run), for the Python hashers."""
        extras = [r.peak_rss - r.rss_before for r in self.runs if r.rss_before is not None]
        return max(extras) if extras else None

    def as_json(self) -> dict[str, Any]:
        rates = self.rates()
        return {
            "hasher": self.name,
            "bytes": self.size,
            "runs": len(rates),
            "gb_per_s_median": round(self.median, 3),
            "gb_per_s_min": round(min(rates), 3),
            "gb_per_s_max": round(max(rates), 3),
            "peak_rss_bytes": self.peak_rss,
            "extra_rss_bytes": self.extra_rss,
        }


def parse_size(text: str) -> int:
    units = {"": 1, "K": 1 << 10, "M": MiB, "G": GiB}
    match = re.fullmatch(r"(\d+)([KMG]?)(?:i?B)?", text.strip(), re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 256M, 1048576)")
    return int(match.group(1)) * units[match.group(2).upper()]


class Bench:
    def __init__(self, args: argparse.Namespace, log: Callable[[str], None]) -> None:
        self.args = args
        self.log = log
        self.rows: dict[str, Row] = {}
        self.speed: list[float] = []
        self.cold: dict[str, float] = {}
        self.uploads: list[Upload] = []
        self.digest = ""

    def run(self, work: Path) -> None:
        args = self.args
        deadline = time.monotonic() + args.max_seconds
        path, small = work / "big.bin", work / "small.bin"
        self.log(f"writing {_size(args.size)} and {_size(args.size // 8)} files")
        self.digest = write_file(path, args.size)
        small_digest = write_file(small, args.size // 8)
        if not args.no_cold:
            for name in (OURS[0], BASELINES[0]):
                evict(path)
                run = run_hasher(name, path)
                self.cold[name] = args.size / run.seconds / 1e9
                self.log(f"cold-ish {name}: {self.cold[name]:.2f} GB/s")
        warm(path)
        warm(small)
        hashers = [*PYTHON_HASHERS, *EXTERNAL_HASHERS]
        for name in hashers:
            self.rows[name] = Row(name, args.size)
        self.rows[SMALL] = Row(SMALL, args.size // 8)
        for repeat in range(args.repeats):
            if repeat and time.monotonic() > deadline:
                self.log(f"--max-seconds reached after {repeat} repetitions")
                break
            # Interleaved, so that a change of load on the machine hits every hasher alike.
            for name in hashers:
                run = run_hasher(name, path)
                if run.digest != self.digest:
                    raise RuntimeError(f"{name} gave {run.digest}, expected {self.digest}")
                self.rows[name].runs.append(run)
            run = run_hasher(OURS[0], small)
            if run.digest != small_digest:
                raise RuntimeError("sha256_file gave a wrong digest of the small file")
            self.rows[SMALL].runs.append(run)
            self.speed.append(openssl_speed(args.speed_seconds))
            rates = ", ".join(f"{self.rows[n].rates()[-1]:.2f}" for n in hashers)
            self.log(f"repetition {repeat + 1} (GB/s, {', '.join(hashers)}): {rates}")
        if not args.no_service:
            self.service(work, path)

    def service(self, work: Path, path: Path) -> None:
        data_dir = work / "data"
        with service(data_dir, self.args.size + MiB, self.log) as (pid, port):
            token = (data_dir / "governance.token").read_text().strip()
            for kind in ("multipart", "octet-stream"):
                result = upload(pid, port, token, path, kind)
                if result.status != 200 or result.digest != self.digest:
                    raise RuntimeError(f"upload ({kind}): {result}")
                self.uploads.append(result)
                self.log(f"upload {kind}: {self.args.size / result.seconds / 1e9:.2f} GB/s")

    # --- figures -------------------------------------------------------------------------------

    def baseline(self) -> float:
        """The faster ``hashlib.file_digest`` variant's median: the stricter reference."""
        return max(self.rows[name].median for name in BASELINES)

    def targets(self) -> list[dict[str, Any]]:
        ratio = min(self.rows[name].median for name in OURS) / self.baseline()
        found = [
            {
                "target": "sha256_file >= 90% of hashlib.file_digest "
                "(slower sha256_file variant / faster file_digest variant, median GB/s)",
                "value": round(ratio, 3),
                "unit": "x",
                "pass": ratio >= TARGET_RATIO,
            }
        ]
        extras: list[tuple[str, int | None]] = [
            ("sha256_file, full size", self.rows[OURS[0]].extra_rss),
            ("sha256_file, 1/8 size", self.rows[SMALL].extra_rss),
        ]
        extras += [
            (f"service, {u.kind} upload", u.peak_rss - u.rss_before)
            for u in self.uploads
            if u.peak_reset
        ]
        for label, extra in extras:
            if extra is not None:
                found.append(
                    {
                        "target": f"{label}: peak RSS - RSS before <= 64 MiB",
                        "value": round(extra / MiB, 1),
                        "unit": "MiB",
                        "pass": extra <= TARGET_EXTRA_RSS,
                    }
                )
        return found

    def table(self) -> tuple[list[str], list[list[str]]]:
        base = self.baseline()
        headers = ["Hasher", "File", "GB/s median", "spread", "x file_digest", "peak RSS"]
        headers.append("RSS over before")
        rows: list[list[str]] = []
        for row in self.rows.values():
            rates = row.rates()
            extra = row.extra_rss
            rows.append(
                [
                    row.name,
                    _size(row.size),
                    f"{row.median:.2f}",
                    f"{min(rates):.2f}-{max(rates):.2f} (n={len(rates)})",
                    f"{row.median / base:.2f}",
                    _size(row.peak_rss),
                    "" if extra is None else _size(extra),
                ]
            )
        if self.speed:
            median = statistics.median(self.speed) / 1e9
            spread = (
                f"{min(self.speed) / 1e9:.2f}-{max(self.speed) / 1e9:.2f} (n={len(self.speed)})"
            )
            label = f"openssl speed -evp sha256 -bytes {OPENSSL_SPEED_BYTES} (in memory)"
            rows.append([label, "", f"{median:.2f}", spread, f"{median / base:.2f}", "", ""])
        for name, rate in self.cold.items():
            label = f"{name}, cold-ish (fadvise DONTNEED first)"
            rows.append([label, _size(self.args.size), f"{rate:.2f}", "n=1", "", "", ""])
        for u in self.uploads:
            rate = self.args.size / u.seconds / 1e9
            over = _size(u.peak_rss - u.rss_before) if u.peak_reset else "(not reset)"
            label = f"service POST /v1/verify, {u.kind}"
            rows.append(
                [
                    label,
                    _size(self.args.size),
                    f"{rate:.2f}",
                    "n=1",
                    f"{rate / base:.2f}",
                    _size(u.peak_rss),
                    over,
                ]
            )
        return headers, rows

    def summary(self, elapsed: float) -> dict[str, Any]:
        targets = self.targets()
        return {
            "summary": True,
            "bytes": self.args.size,
            "cache": "warm (page cache)",
            "openssl_speed_gb_per_s": [round(s / 1e9, 3) for s in self.speed],
            "cold_gb_per_s": {k: round(v, 3) for k, v in self.cold.items()},
            "uploads": [
                {
                    "kind": u.kind,
                    "gb_per_s": round(self.args.size / u.seconds / 1e9, 3),
                    "seconds": round(u.seconds, 2),
                    "server_rss_before_bytes": u.rss_before,
                    "server_peak_rss_bytes": u.peak_rss,
                    "peak_reset_before_upload": u.peak_reset,
                }
                for u in self.uploads
            ],
            "targets": targets,
            "all_targets_pass": all(t["pass"] for t in targets),
            "elapsed_s": round(elapsed, 1),
        }


def _size(count: int) -> str:
    if abs(count) >= GiB:
        return f"{count / GiB:.3g} GiB"
    return f"{count / MiB:.1f} MiB"


def _print(headers: list[str], rows: list[list[str]], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("|---|" + "---:|" * (len(headers) - 1))
        for r in rows:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    for r in [headers, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=GiB, help="file size (default 1G)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each hasher (median)")
    parser.add_argument("--speed-seconds", type=int, default=3, help="openssl speed -seconds")
    parser.add_argument(
        "--max-seconds", type=float, default=600, help="no new repetition after this long"
    )
    parser.add_argument("--no-service", action="store_true", help="skip the service uploads")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-ish runs")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON line per hasher, then summary")
    out.add_argument("--markdown", action="store_true", help="a Markdown table")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    args.repeats = max(1, args.repeats)
    if args.size < 8 * MiB:
        parser.error("--size must be at least 8M")
    if shutil.which("openssl") is None or shutil.which("sha256sum") is None:
        parser.error("openssl and sha256sum must be on PATH")

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[hashing] {message}", file=sys.stderr, flush=True)

    started = time.monotonic()
    bench = Bench(args, log)
    with tempfile.TemporaryDirectory(prefix="provledger-bench-hashing-", dir=args.dir) as tmp:
        bench.run(Path(tmp))
    summary = bench.summary(time.monotonic() - started)
    if args.json:
        for row in bench.rows.values():
            print(json.dumps(row.as_json()))
        print(json.dumps(summary))
    else:
        headers, rows = bench.table()
        _print(headers, rows, args.markdown)
        print()
        for t in summary["targets"]:
            verdict = "PASS" if t["pass"] else "FAIL"
            print(
                f"{'- **' + verdict + '**' if args.markdown else verdict} {t['target']}: "
                f"{t['value']} {t['unit']}"
            )
        print(f"\nelapsed {summary['elapsed_s']} s")
    return 0 if summary["all_targets_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
