"""The benchmarks' load generator reads HTTP/1.1 responses correctly and stays bounded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench._load import _read_response, http_request, multipart, run_load


def _parse(raw: bytes) -> tuple[int, bytes, bool]:
    async def go() -> tuple[int, bytes, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await _read_response(reader)

    return asyncio.run(go())


def test_a_response_is_read_by_content_length() -> None:
    raw = b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nhelloNEXT"
    assert _parse(raw) == (202, b"hello", True)


def test_a_chunked_response_is_reassembled() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    assert _parse(raw) == (200, b"abcde", True)


def test_connection_close_is_reported() -> None:
    raw = b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
    assert _parse(raw) == (401, b"no", False)


def test_a_multipart_body_carries_the_file_bytes_whole() -> None:
    content_type, body = multipart("file", "f.bin", b"\x00\r\n--x")
    boundary = content_type.split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert b"\r\n\r\n\x00\r\n--x\r\n" in body
    assert body.endswith(f"\r\n--{boundary}--\r\n".encode())


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        status = 200 if self.headers.get("Authorization") == "Bearer t" else 401
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_load_stops_at_the_request_count_and_counts_every_answer(echo_port: int) -> None:
    def make(i: int) -> bytes:
        token = "t" if i % 2 == 0 else "wrong"
        return http_request("/x", f"{i}".encode(), content_type="text/plain", token=token)

    result = run_load(echo_port, make, requests=40, max_seconds=30, concurrency=4, keep_bodies=True)

    assert result.requests == 40 and len(result.latencies) == 40
    assert result.statuses == {200: 20, 401: 20}
    assert sorted(int(b) for b in result.bodies) == list(range(40))
    assert result.first_error.startswith("401")
    assert result.stopped_by == "requests"


def test_the_load_stops_at_max_seconds(echo_port: int) -> None:
    make = lambda i: http_request("/x", b"", content_type="text/plain", token="t")  # noqa: E731
    result = run_load(echo_port, make, requests=10**9, max_seconds=0.3, concurrency=2)

    assert result.stopped_by == "max-seconds"
    assert 0 < result.requests < 10**9
    assert result.seconds < 5
