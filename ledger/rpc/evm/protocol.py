"""The wire between the service and a call worker: length-prefixed frames over a socket.

A frame is a 4-byte big-endian length, a 1-byte kind and the payload. The service sends a call
(``CALL``, JSON) and answers the worker's database reads (``VALUE``); the worker announces itself
(``HELLO``), asks for database entries (``GET``, the 32-byte key) and sends the outcome
(``RESULT``, JSON). Nothing is pickled: the worker runs code anyone may submit, so what it sends
back is parsed as plain data, never executed.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

CALL: Final = b"C"
VALUE: Final = b"V"
HELLO: Final = b"H"
GET: Final = b"G"
RESULT: Final = b"R"

#: Largest frame either side accepts (a contract's code is at most 48 KiB; a call's data and
#: output are bounded by its gas long before this).
MAX_FRAME: Final = 64 * 1024 * 1024

_HEADER: Final = struct.Struct(">IB")


class ChannelClosedError(EOFError):
    """The other side closed the socket (or died) before a whole frame arrived."""


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    if len(payload) > MAX_FRAME:
        raise ValueError(f"frame of {len(payload)} bytes is larger than {MAX_FRAME}")
    sock.sendall(_HEADER.pack(len(payload), kind[0]) + payload)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ChannelClosedError("the channel closed mid-frame")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> tuple[bytes, bytes]:
    """The next frame's (kind, payload); raises :class:`ChannelClosedError` on a closed
    channel, ``TimeoutError`` when the socket's timeout passes first."""
    size, kind = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise ChannelClosedError(f"frame of {size} bytes announced, more than {MAX_FRAME}")
    return bytes([kind]), _read_exactly(sock, size)


__all__ = [
    "CALL",
    "GET",
    "HELLO",
    "MAX_FRAME",
    "RESULT",
    "VALUE",
    "ChannelClosedError",
    "recv_frame",
    "send_frame",
]
