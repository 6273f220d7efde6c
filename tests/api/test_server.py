"""The server (api/server.py, api/connections.py) holds against slow and numerous clients: a
request's headers have a deadline however slowly they trickle, a stalled body is dropped, the
connections served at once are capped, and honest clients are served meanwhile.

Against a real ``python -m api serve`` process with tight limits, on raw sockets.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from hostile import SlowClients, alive, send_raw

from api.connections import ConnectionLimits, GuardedH11Protocol
from api.server import FD_RESERVE, config, connection_limits, raise_open_files_limit
from bench._service import serve
from ledger.config import Settings

HEADER_TIMEOUT = 2.0
BODY_IDLE_TIMEOUT = 2.0
MAX_CONNECTIONS = 1200
#: Scheduling on a shared two-core machine: how late a timer may fire and still pass.
SLACK = 1.5

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Served:
    base: str
    pid: int


@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    if request.config.getoption("--chain") == "anvil":
        pytest.skip("the server runs its own embedded chain; the default pass covers it")
    # This process opens over a thousand sockets itself.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    limits = {
        "PROVLEDGER_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "PROVLEDGER_BODY_IDLE_TIMEOUT": str(BODY_IDLE_TIMEOUT),
        "PROVLEDGER_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    with serve(tmp_path_factory.mktemp("slow") / "data", limits) as (base, pid):
        yield Served(base, pid)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def settle(served: Served) -> None:
    """Wait until the server holds no connection of an earlier test."""
    time.sleep(max(HEADER_TIMEOUT, BODY_IDLE_TIMEOUT) + SLACK)


class HonestClient(threading.Thread):
    """Asks /healthz on a fresh connection every 100 ms, timing each answer."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.latencies: list[float] = []
        self.statuses: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            started = time.monotonic()
            try:
                status = httpx2.get(f"{self.base}/healthz", timeout=10).status_code
            except httpx2.TransportError:
                status = 0
            self.latencies.append(time.monotonic() - started)
            self.statuses.append(status)


def test_slowloris_connections_are_closed_at_the_header_deadline_while_honest_clients_are_served(
    served: Served,
) -> None:
    settle(served)
    honest = HonestClient(served.base)
    honest.start()
    slow = SlowClients(served.base, 1000, b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        deadline = time.monotonic() + HEADER_TIMEOUT + SLACK + 5
        while slow.still_open and time.monotonic() < deadline:
            slow.trickle()  # a byte every 200 ms on each: any byte used to reset uvicorn's timer
            slow.watch(0.2)
    finally:
        honest.stop.set()
        honest.join()
        slow.close()
    assert slow.still_open == 0
    assert max(slow.lifetimes()) < HEADER_TIMEOUT + SLACK
    # The deadline is jittered over its last quarter (api/connections.py).
    assert min(slow.lifetimes()) >= HEADER_TIMEOUT * 0.75 - 0.1
    assert honest.statuses and set(honest.statuses) == {200}
    assert max(honest.latencies) < 1.0, sorted(honest.latencies)[-5:]
    assert alive(served.pid)


def test_connections_over_the_cap_are_answered_503_and_closed_at_once(served: Served) -> None:
    settle(served)
    held = SlowClients(served.base, MAX_CONNECTIONS, b"")
    try:
        over = SlowClients(served.base, 50, b"")
        try:
            over.watch(1.0)
            assert over.still_open == 0
            assert max(over.lifetimes()) < 1.0
            assert all(said.startswith(b"HTTP/1.1 503 ") for said in over.said.values())
            assert len(over.said) == 50
        finally:
            over.close()
        # While the cap is full an honest client is turned away too (the cap keeps file
        # descriptors for the process, not places for the honest); the header deadline frees
        # the places.
        held.watch(HEADER_TIMEOUT + SLACK)
        assert held.still_open == 0
    finally:
        held.close()
    assert httpx2.get(f"{served.base}/healthz", timeout=10).status_code == 200


def test_a_stalled_body_is_dropped_but_a_slow_steady_one_is_served(served: Served) -> None:
    settle(served)
    head = b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}'
    stalled = SlowClients(served.base, 1, head + b"Content-Length: 100\r\n\r\n" + body[:10])
    steady = SlowClients(served.base, 1, head + f"Content-Length: {len(body)}\r\n\r\n".encode())
    try:
        started = time.monotonic()
        for index, byte in enumerate(body):  # one byte every 0.1 s: 5 s in all, never 2 s idle
            steady.trickle(bytes([byte]))
            tick = started + (index + 1) * 0.1
            stalled.watch(tick - time.monotonic())  # returns early once the stalled one is gone
            time.sleep(max(0.0, tick - time.monotonic()))
        steady.watch(2.0)
        assert stalled.still_open == 0
        assert BODY_IDLE_TIMEOUT - 0.1 <= stalled.lifetimes()[0] < BODY_IDLE_TIMEOUT + SLACK
        assert time.monotonic() - started > BODY_IDLE_TIMEOUT * 2
        [answer] = steady.said.values()
        assert answer.startswith(b"HTTP/1.1 200 ") and b'"result"' in answer
    finally:
        stalled.close()
        steady.close()


def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(
    served: Served,
) -> None:
    settle(served)
    kept = SlowClients(served.base, 1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        kept.watch(1.0)
        [answer] = kept.said.values()
        assert answer.startswith(b"HTTP/1.1 200 ")
        answered = time.monotonic()
        kept.trickle(b"G")
        while kept.still_open and time.monotonic() - answered < HEADER_TIMEOUT + SLACK:
            kept.trickle(b"E")
            kept.watch(0.2)
        assert kept.still_open == 0
    finally:
        kept.close()


def test_headers_are_bounded_in_size(served: Served) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n\r\n"
    assert send_raw(served.base, big).status == 400
    assert send_raw(served.base, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200


# --- the server's configuration -------------------------------------------------------------


def test_the_service_is_served_by_the_guarded_h11_protocol_and_no_websockets() -> None:
    served = config(
        lambda scope, receive, send: None,  # type: ignore[arg-type, return-value]
        Settings(header_timeout=3, body_idle_timeout=30, max_connections=10, max_header_bytes=4096),
        open_files=1024,
        log_config=None,
    )
    served.load()
    assert issubclass(served.http_protocol_class, GuardedH11Protocol)
    assert served.http_protocol_class.limits == ConnectionLimits(3, 30, 10)  # type: ignore[attr-defined]
    assert served.ws_protocol_class is None
    assert served.h11_max_incomplete_event_size == 4096


def test_the_connection_cap_is_lowered_to_fit_the_open_files_limit() -> None:
    settings = Settings(max_connections=100_000)
    assert connection_limits(settings, 4096).max_connections == 4096 - FD_RESERVE
    assert connection_limits(Settings(max_connections=10), 4096).max_connections == 10


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
        assert raise_open_files_limit() == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
