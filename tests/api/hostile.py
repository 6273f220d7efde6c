"""Hostile clients for the transport tests, on raw sockets: nothing in an HTTP library would
send what they send, or stop reading the answer because it is still sending.

Also the means to watch the server they attack from outside: its resident memory, and whether
its process is still alive.
"""

from __future__ import annotations

import select
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    """What came back: status, headers (lowercase names), body; and how much was sent."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent: int


def _address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _parse(raw: bytes, sent: int) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        raise ConnectionError(f"no HTTP answer after {sent} bytes sent: {raw[:200]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    return Answer(int(lines[0].split()[1]), headers, body[:length], sent)


def _read_answer(sock: socket.socket, sent: int, timeout: float) -> Answer:
    sock.settimeout(timeout)
    raw = b""
    while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _length(raw):
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break  # the server closed with our bytes unread: what it answered is already here
        if not data:
            break
        raw += data
    return _parse(raw, sent)


def _length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def send_streaming(
    base: str,
    path: str,
    *,
    total: int,
    headers: dict[str, str],
    prefix: bytes = b"",
    suffix: bytes = b"",
    chunked: bool = True,
    timeout: float = 120,
) -> Answer:
    """POST a body of ``total`` bytes, ``prefix`` + "aaa…" + ``suffix``, chunked (or with a
    Content-Length), watching for the answer while sending: as a client that streams a body
    and reads whatever comes back as soon as it comes."""
    host, port = _address(base)
    filler = b"a" * (1 << 20)

    def piece(offset: int) -> bytes:
        size = min(1 << 20, total - offset)
        data = bytearray(filler[:size])
        if offset < len(prefix):
            data[: len(prefix) - offset] = prefix[offset : offset + size]
        tail = total - len(suffix)
        if offset + size > tail:
            start = max(tail, offset)
            data[start - offset :] = suffix[start - tail :]
        return bytes(data)

    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)}
    request = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in {**headers, **framing}.items()
    )
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request.encode() + b"\r\n")
        sent = 0
        deadline = time.monotonic() + timeout
        watch = select.poll()  # not select(): the test process may hold fds over 1024
        watch.register(sock, select.POLLIN | select.POLLOUT)
        while sent < total and time.monotonic() < deadline:
            events = dict(watch.poll(1000)).get(sock.fileno(), 0)
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                break  # the server answered (or closed) before the body ended
            if not events & select.POLLOUT:
                continue
            body = piece(sent)
            data = f"{len(body):x}\r\n".encode() + body + b"\r\n" if chunked else body
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(body)
        else:
            if chunked and sent >= total:
                with suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(b"0\r\n\r\n")
        return _read_answer(sock, sent, timeout)


def send_raw(base: str, request: bytes, *, timeout: float = 60) -> Answer:
    """Send ``request`` as given and read the answer."""
    with socket.create_connection(_address(base), timeout=timeout) as sock:
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        return _read_answer(sock, len(request), timeout)


def status_field(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM…), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"{field} not in /proc/{pid}/status")


def alive(pid: int) -> bool:
    """The process runs (a child that died stays a zombie until waited for: not alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


@contextmanager
def peak_rss(pid: int) -> Iterator[dict[str, int]]:
    """Within the block, the most resident memory ``pid`` had (``peak``) beyond what it had on
    entry (``growth``), in bytes: sampled every 10 ms, and the kernel's own high-water mark,
    reset on entry where the kernel allows it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before = status_field(pid, "VmRSS")
    figures = {"before": before, "peak": before, "growth": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            try:
                figures["peak"] = max(figures["peak"], status_field(pid, "VmRSS"))
            except (FileNotFoundError, LookupError):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield figures
    finally:
        stop.set()
        sampler.join()
        if reset and alive(pid):
            figures["peak"] = max(figures["peak"], status_field(pid, "VmHWM"))
        figures["growth"] = figures["peak"] - before


class SlowClients:
    """Connections that each send ``start`` and then trickle one byte at a time, never
    completing their request (slowloris). Tracks when the server closes each of them, and what
    it said first if anything."""

    def __init__(self, base: str, count: int, start: bytes) -> None:
        self._poller = selectors.DefaultSelector()  # epoll: thousands of sockets
        self.opened: dict[socket.socket, float] = {}
        self.closed: dict[socket.socket, float] = {}
        self.said: dict[socket.socket, bytes] = {}
        for _ in range(count):
            sock = socket.create_connection(_address(base), timeout=10)
            sock.setblocking(False)
            self.opened[sock] = time.monotonic()
            self._poller.register(sock, selectors.EVENT_READ)
            self._send(sock, start)

    @property
    def still_open(self) -> int:
        return len(self.opened) - len(self.closed)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        try:
            sock.send(data)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._gone(sock)

    def _gone(self, sock: socket.socket) -> None:
        if sock not in self.closed:
            self.closed[sock] = time.monotonic()
            self._poller.unregister(sock)

    def trickle(self, byte: bytes = b"X") -> None:
        """One more byte on every connection still open."""
        for sock in list(self.opened):
            if sock not in self.closed:
                self._send(sock, byte)

    def watch(self, seconds: float) -> None:
        """Note the connections the server closes within ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and self.still_open:
            for key, _ in self._poller.select(timeout=left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    self.said[sock] = self.said.get(sock, b"") + data
                else:
                    self._gone(sock)

    def lifetimes(self) -> list[float]:
        """Seconds from opening to being closed by the server, of those it closed."""
        return [self.closed[s] - self.opened[s] for s in self.closed]

    def close(self) -> None:
        for sock in self.opened:
            sock.close()
        self._poller.close()
