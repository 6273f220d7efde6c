"""A small asyncio HTTP/1.1 load generator for loopback benchmarks.

Why not httpx: on a 2-core machine the client shares the cores with the server, so every
microsecond it spends per request is taken from what is measured. This client writes
pre-encoded requests on ``concurrency`` keep-alive connections and reads responses by
``Content-Length`` (or chunked), about 20 µs of Python per request; httpx's AsyncClient costs
several times that. It speaks only to 127.0.0.1 and stops at ``requests`` requests or
``max_seconds``, whichever comes first.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Builds the bytes of request number ``i``.
RequestFactory = Callable[[int], bytes]


def http_request(
    path: str,
    body: bytes,
    *,
    content_type: str,
    token: str | None = None,
    method: str = "POST",
    port: int = 0,
) -> bytes:
    """One HTTP/1.1 request, encoded."""
    head = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def multipart(field_name: str, filename: str, data: bytes) -> tuple[str, bytes]:
    """(content type, body) of a multipart/form-data upload of one file."""
    boundary = "provledgerbench7MA4YWxkTrZu0gW"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


@dataclass
class LoadResult:
    """What one load run measured."""

    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    first_error: str = ""
    stopped_by: str = "requests"

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def ok(self, status: int) -> int:
        return self.statuses.get(status, 0)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, body, headers.get("connection", "").lower() != "close"


async def _run(
    port: int,
    make_request: RequestFactory,
    *,
    requests: int,
    max_seconds: float,
    concurrency: int,
    keep_bodies: bool,
) -> LoadResult:
    result = LoadResult()
    numbers = itertools.count()
    started = time.perf_counter()
    deadline = started + max_seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                i = next(numbers)
                if i >= requests:
                    return
                if time.perf_counter() > deadline:
                    result.stopped_by = "max-seconds"
                    return
                payload = make_request(i)
                t0 = time.perf_counter()
                writer.write(payload)
                status, body, keep_alive = await _read_response(reader)
                result.latencies.append(time.perf_counter() - t0)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status >= 400 and not result.first_error:
                    result.first_error = f"{status} {body[:300]!r}"
                if keep_bodies:
                    result.bodies.append(body)
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    result.requests = len(result.latencies)
    return result


def run_load(
    port: int,
    make_request: RequestFactory,
    *,
    requests: int,
    max_seconds: float,
    concurrency: int,
    keep_bodies: bool = False,
) -> LoadResult:
    """Send up to ``requests`` requests (request ``i`` from ``make_request(i)``) from
    ``concurrency`` connections to ``127.0.0.1:port``, for at most ``max_seconds``."""
    return asyncio.run(
        _run(
            port,
            make_request,
            requests=requests,
            max_seconds=max_seconds,
            concurrency=concurrency,
            keep_bodies=keep_bodies,
        )
    )


def summary(result: LoadResult, percentiles: Callable[[list[float]], dict[str, float]]) -> Any:
    """The JSON-ready figures of a load run."""
    return {
        "requests": result.requests,
        "seconds": round(result.seconds, 2),
        "per_s": round(result.per_second, 1),
        "latency_ms": percentiles(result.latencies),
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "stopped_by": result.stopped_by,
        **({"first_error": result.first_error} if result.first_error else {}),
    }
