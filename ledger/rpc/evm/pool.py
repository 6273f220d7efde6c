"""The service's side of the call workers: a few worker processes, each driven by a thread.

:meth:`EvmPool.submit` never blocks: it queues the job and returns a ``concurrent.futures``
future that an ``async`` caller awaits (``asyncio.wrap_future``) without holding any thread.
While a job is still queued its future can be cancelled (``Future.cancel`` fails once a driver
has taken it): that is how a caller gives up after a short wait and answers "busy", and the
queue is also bounded outright. A driver thread sends the job to its worker, answers the
worker's database reads until the outcome arrives, and enforces the backstop: no outcome within
the job's time plus a grace period, or a dead worker (a crash, a segfault, ``kill -9``), and the
worker is killed and replaced, the job answered with an error, the service unaffected.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import ledger
from ledger.errors import (
    RpcInternalError,
    RpcLimitExceededError,
    RpcTimeoutError,
)
from ledger.rpc.evm import protocol
from ledger.rpc.evm.job import CallJob, CallOutcome

log = logging.getLogger(__name__)

#: How long a new worker may take to import py-evm and say hello.
SPAWN_TIMEOUT: Final = 60.0
#: Extra time the worker's own deadline gets before the parent kills it.
GRACE: Final = 1.0

NodeReader = Callable[[bytes], "bytes | None"]


class WorkerLostError(Exception):
    """The worker died, hung or broke the protocol during a job."""


class _Worker:
    """One worker process and the socket to it."""

    def __init__(self) -> None:
        parent, child = socket.socketpair()
        package_root = str(Path(ledger.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ledger.rpc.evm.worker",
                    str(child.fileno()),
                    str(os.getpid()),
                ],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        finally:
            child.close()
        self.sock = parent
        try:
            self.sock.settimeout(SPAWN_TIMEOUT)
            kind, _ = protocol.recv_frame(self.sock)
            if kind != protocol.HELLO:
                raise WorkerLostError("the worker did not say hello")
        except (OSError, EOFError, WorkerLostError) as exc:
            self.kill()
            raise WorkerLostError(f"the worker did not start: {exc}") from exc

    @property
    def pid(self) -> int:
        return self.process.pid

    def run(self, job: CallJob, read_node: NodeReader) -> CallOutcome:
        """Run ``job``, answering the worker's reads; WorkerLostError if it dies or overruns."""
        deadline = time.monotonic() + job.timeout + GRACE
        try:
            protocol.send_frame(self.sock, protocol.CALL, job.to_json())
            while True:
                self.sock.settimeout(max(0.001, deadline - time.monotonic()))
                kind, payload = protocol.recv_frame(self.sock)
                if kind == protocol.GET:
                    value = _read(read_node, payload)
                    answer = b"\x00" if value is None else b"\x01" + value
                    protocol.send_frame(self.sock, protocol.VALUE, answer)
                elif kind == protocol.RESULT:
                    return CallOutcome.from_json(payload)
                else:
                    raise WorkerLostError("unexpected frame from the worker")
        except TimeoutError as exc:
            raise WorkerLostError("the worker overran its deadline") from exc
        except (OSError, EOFError) as exc:
            raise WorkerLostError(f"the worker died: {exc}") from exc

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.sock.close()


def _read(read_node: NodeReader, key: bytes) -> bytes | None:
    try:
        return read_node(key)
    except Exception:  # the chain is closing, say: the call fails, the worker lives on
        log.exception("reading a node for an EVM worker failed")
        return None


@dataclass(eq=False)
class _Job:
    job: CallJob
    deadline: float  # time.monotonic() by which the caller wants an answer
    limit: float  # the configured time limit, for the message
    future: Future[CallOutcome]
    queued_at: float = field(default_factory=time.monotonic)


class EvmPool:
    """Call workers for one chain; ``read_node`` serves their database reads."""

    def __init__(self, read_node: NodeReader, *, workers: int = 1, max_queued: int = 0) -> None:
        self._read_node = read_node
        self._size = workers
        self._max_queued = max_queued or 4 * workers
        self._queue: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._drivers: list[threading.Thread] = []
        self._workers: dict[int, _Worker] = {}
        self._running: set[int] = set()  # drivers running a job right now
        self._closed = False
        #: Workers killed or lost and replaced since the start (for tests and diagnostics).
        self.respawns = 0

    # --- for callers ------------------------------------------------------------------------

    def submit(self, job: CallJob, *, deadline: float, limit: float) -> Future[CallOutcome]:
        """Queue ``job`` to finish by ``deadline`` (``time.monotonic()``); ``limit`` is the
        configured time limit the timeout error quotes. The future is cancellable until a
        driver takes the job."""
        future: Future[CallOutcome] = Future()
        with self._ready:
            if self._closed:
                future.set_exception(RpcInternalError("internal error: the server is stopping"))
                return future
            self._start_drivers()
            waiting = sum(1 for queued in self._queue if not queued.future.cancelled())
            if waiting >= self._max_queued:
                future.set_exception(busy())
                return future
            self._queue.append(_Job(job, deadline, limit, future))
            self._ready.notify()
        return future

    def saturated(self) -> bool:
        """Whether every worker is running a job: a queued job then waits for one to finish
        (a worker being started is not busy: a job waits for it rather than being refused)."""
        with self._ready:
            return len(self._running) >= self._size

    def warm(self) -> None:
        """Start the drivers (and so the worker processes) now rather than at the first call."""
        with self._ready:
            self._start_drivers()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        with self._ready:
            return [worker.pid for worker in self._workers.values()]

    def close(self) -> None:
        """Stop the drivers and kill the workers; queued jobs are answered with an error."""
        with self._ready:
            self._closed = True
            while self._queue:
                queued = self._queue.popleft()
                if queued.future.set_running_or_notify_cancel():
                    queued.future.set_exception(
                        RpcInternalError("internal error: the server is stopping")
                    )
            self._ready.notify_all()
            workers = list(self._workers.values())
        for worker in workers:
            worker.kill()
        for driver in self._drivers:
            driver.join(timeout=5)

    # --- drivers ----------------------------------------------------------------------------

    def _start_drivers(self) -> None:
        while len(self._drivers) < self._size:
            index = len(self._drivers)
            driver = threading.Thread(
                target=self._drive, args=(index,), name=f"evm-driver-{index}", daemon=True
            )
            self._drivers.append(driver)
            driver.start()

    def _take(self) -> _Job | None:
        with self._ready:
            while True:
                if self._closed:
                    return None
                while self._queue:
                    queued = self._queue.popleft()
                    if queued.future.set_running_or_notify_cancel():
                        return queued
                self._ready.wait()

    def _spawn(self, index: int) -> _Worker | None:
        try:
            worker = _Worker()
        except (OSError, WorkerLostError):
            log.exception("cannot start an EVM call worker")
            return None
        with self._ready:
            if self._closed:
                worker.kill()
                return None
            self._workers[index] = worker
        return worker

    def _drive(self, index: int) -> None:
        worker = self._spawn(index)
        ready_at = time.monotonic()
        while True:
            queued = self._take()
            if queued is None:
                return
            if worker is None:
                worker = self._spawn(index)
                ready_at = time.monotonic()
            if worker is None:
                queued.future.set_exception(
                    RpcInternalError("internal error: no EVM worker could be started")
                )
                continue
            # Waiting for a worker to start (importing py-evm: seconds on a loaded machine)
            # is not execution: a job queued meanwhile gets that wait back, so the first calls
            # after a start or a respawn are not timed out before they ran at all.
            queued.deadline += max(0.0, ready_at - queued.queued_at)
            remaining = queued.deadline - time.monotonic()
            if remaining <= 0:
                queued.future.set_exception(timed_out(queued.limit))
                continue
            with self._ready:
                self._running.add(index)
            try:
                worker = self._run(index, worker, queued, remaining)
            finally:
                with self._ready:
                    self._running.discard(index)

    def _run(self, index: int, worker: _Worker, queued: _Job, remaining: float) -> _Worker | None:
        """Run one job on ``worker``; the worker to use next (None: start a new one)."""
        try:
            outcome = worker.run(replace(queued.job, timeout=remaining), self._read_node)
        except WorkerLostError as exc:
            overran = time.monotonic() >= queued.deadline
            log.warning("EVM worker %d lost (%s); starting another", worker.pid, exc)
            self._discard(index, worker)
            queued.future.set_exception(
                timed_out(queued.limit)
                if overran
                else RpcInternalError(
                    "internal error: the EVM worker stopped unexpectedly; it has been "
                    "replaced, the call may be retried"
                )
            )
            return None if self._closed else self._spawn(index)
        except Exception:  # a bug on our side: never end the driver; start afresh
            log.exception("EVM driver failed")
            self._discard(index, worker)
            queued.future.set_exception(RpcInternalError("internal error"))
            return None
        if outcome.status == "timeout":
            queued.future.set_exception(timed_out(queued.limit))
        else:
            queued.future.set_result(outcome)
        return worker

    def _discard(self, index: int, worker: _Worker) -> None:
        with self._ready:
            self._workers.pop(index, None)
        worker.kill()
        self.respawns += 1


def busy() -> RpcLimitExceededError:
    """The error for a call that found every worker busy."""
    return RpcLimitExceededError("limit exceeded: every EVM worker is busy; retry in a moment")


def timed_out(seconds: float) -> RpcTimeoutError:
    """geth's error for a call stopped at its time limit."""
    return RpcTimeoutError(f"execution aborted (timeout = {seconds:g}s)")


__all__ = ["EvmPool", "WorkerLostError", "busy", "timed_out"]
