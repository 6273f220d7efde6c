"""A call worker: a separate process that runs ``eth_call`` on py-evm, one call at a time.

Started by :mod:`ledger.rpc.evm.pool` as ``python -m ledger.rpc.evm.worker FD PARENT_PID`` (a
fresh interpreter, as multiprocessing's spawn gives, without re-importing the service's main
module). It holds no chain: its database is a read-through view whose misses it asks the service
for over the socket ``FD``. Only 32-byte content-addressed keys are asked for (trie nodes, code,
headers by hash); their values never change, so they are cached here for good (up to a memory
budget).

Why a process: a call can loop for as long as its gas lasts, nest 1,024 calls deep, or hit a
bug in py-evm; here that costs at most this process, which the service kills and replaces. The
call runs in a thread with a 256 MiB stack (py-evm, through py_ecc, raises the recursion limit
to 100,000, far more than a default 8 MiB thread stack holds if recursion goes through C), and
the process dies with its parent (``PR_SET_PDEATHSIG``), so a worker is never left behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
from collections import OrderedDict
from typing import Any, Final

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB

from ledger.rpc.evm import protocol
from ledger.rpc.evm.execute import execute
from ledger.rpc.evm.job import CallJob, CallOutcome

#: Stack of the thread that runs calls.
STACK_BYTES: Final = 256 * 1024 * 1024
#: Memory the node cache may hold.
CACHE_BYTES: Final = 64 * 1024 * 1024
_NODE_KEY: Final = 32
#: How much lower than the service a worker runs (nice(2) increment).
WORKER_NICENESS: Final = 10


class _NodeCache:
    """Content-addressed entries already fetched, least recently used dropped first."""

    def __init__(self, budget: int) -> None:
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = 0
        self._budget = budget

    def get(self, key: bytes) -> bytes | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: bytes, value: bytes) -> None:
        if key in self._entries:
            return
        self._entries[key] = value
        self._size += len(key) + len(value)
        while self._size > self._budget and self._entries:
            old_key, old_value = self._entries.popitem(last=False)
            self._size -= len(old_key) + len(old_value)


class _ReadThroughDB(BaseDB):
    """py-evm's database for one call: the service's entries fetched on demand, and the call's
    own writes kept in an overlay that is dropped afterwards."""

    def __init__(self, sock: socket.socket, cache: _NodeCache) -> None:
        self._sock = sock
        self._cache = cache
        self._overlay: dict[bytes, bytes | None] = {}

    def __getitem__(self, key: bytes) -> bytes:
        if key in self._overlay:
            written = self._overlay[key]
            if written is None:
                raise KeyError(key)
            return written
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(key) != _NODE_KEY:
            raise KeyError(key)  # not content-addressed: the service would refuse it anyway
        protocol.send_frame(self._sock, protocol.GET, key)
        kind, payload = protocol.recv_frame(self._sock)
        if kind != protocol.VALUE or not payload:
            raise protocol.ChannelClosedError("unexpected frame from the service")
        if payload[:1] != b"\x01":
            raise KeyError(key)
        value = payload[1:]
        self._cache.put(key, value)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._overlay[key] = value

    def __delitem__(self, key: bytes) -> None:
        self._overlay[key] = None


def _run(sock: socket.socket, cache: _NodeCache, payload: bytes) -> CallOutcome:
    try:
        job = CallJob.from_json(payload)
        return execute(AtomicDB(_ReadThroughDB(sock, cache)), job)
    except protocol.ChannelClosedError:
        raise
    except MemoryError:
        raise  # the process is in no state to go on: let it die, the service starts another
    except Exception as exc:  # py-evm validation, a missing trie node, recursion: one call fails
        return CallOutcome(status="error", message=f"the call could not run ({type(exc).__name__})")


def serve(sock: socket.socket) -> None:
    """Answer calls until the service closes the socket."""
    cache = _NodeCache(CACHE_BYTES)
    protocol.send_frame(sock, protocol.HELLO, str(os.getpid()).encode())
    while True:
        try:
            kind, payload = protocol.recv_frame(sock)
        except protocol.ChannelClosedError:
            return
        if kind != protocol.CALL:
            return
        outcome = _run(sock, cache, payload)
        protocol.send_frame(sock, protocol.RESULT, outcome.to_json())


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc: Any = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def main(argv: list[str]) -> None:
    fd, parent_pid = int(argv[1]), int(argv[2])
    _die_with_parent(parent_pid)
    # Below the service in the scheduler's eyes: an outsider's eth_call (any caller on an open
    # /rpc) must not take CPU from the API's own requests when the cores are contended.
    os.nice(WORKER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C at a terminal is for the service
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))
    sock = socket.socket(fileno=fd)
    threading.stack_size(STACK_BYTES)
    runner = threading.Thread(target=serve, args=(sock,), name="evm-call", daemon=True)
    runner.start()
    runner.join()


if __name__ == "__main__":
    main(sys.argv)
