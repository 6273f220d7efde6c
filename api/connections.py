"""HTTP/1.1 connections that slow or numerous clients cannot hold: uvicorn's h11 protocol with a
header deadline, an idle-body timeout, a cap on open connections and a strict bound on a
request's line and headers.

uvicorn alone keeps a connection whose headers never complete open forever: it arms no timer
when a connection opens, and any byte received cancels its keep-alive timer. Here a request's
headers must be complete within ``header_timeout`` of the connection opening (or of the previous
response), however slowly their bytes trickle; a body that stalls for ``body_idle_timeout``
closes the connection; and a connection beyond ``max_connections`` is answered 503 and closed
at once, so file descriptors stay free for the clients being served.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

# Sent to a connection over the cap before it is closed: it may have sent nothing yet, so this
# is all the HTTP it gets.
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"too many connections\n"
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take and how many may be connected (see the module docstring)."""

    header_timeout: float
    body_idle_timeout: float
    max_connections: int


class _BoundedConnection(h11.Connection):
    """h11's connection refusing a request whose line and headers exceed the size it buffers
    when incomplete: h11 alone accepts any size that arrives complete in one read."""

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes

    def next_event(self) -> Any:
        event = super().next_event()
        if isinstance(event, h11.Request):
            size = len(event.method) + len(event.target) + 12
            size += sum(len(name) + len(value) + 4 for name, value in event.headers)
            if size > self.max_head_bytes:
                # uvicorn answers this 400 and closes, as for an incomplete event too large.
                raise h11.RemoteProtocolError("request line and headers too large", 431)
        return event


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol under :class:`ConnectionLimits` (set by :func:`guarded`)."""

    limits: ClassVar[ConnectionLimits]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = _BoundedConnection(config.h11_max_incomplete_event_size or 16 * 1024)
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._last_body_data = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            transport.write(_BUSY)
            transport.close()
            return
        super().connection_made(transport)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        self._last_body_data = self.loop.time()
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _watch(self) -> None:
        """Arm the timer the connection's state calls for: the header deadline while a request's
        headers are awaited, the idle-body timer while its body is."""
        if self.transport.is_closing():
            self._stop_timers()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self._cancel_body_timer()
            if self._header_timer is None:  # a deadline: bytes arriving never push it back
                # Jittered (the last quarter of the timeout): connections opened together by an
                # attacker are not all dropped, and reopened, in the same instant.
                deadline = self.limits.header_timeout * random.uniform(0.75, 1.0)
                self._header_timer = self.loop.call_later(deadline, self._headers_overdue)
            return
        self._cancel_header_timer()
        if state is not h11.SEND_BODY:
            self._cancel_body_timer()
        elif self._body_timer is None:
            self._body_timer = self.loop.call_later(
                self.limits.body_idle_timeout, self._body_overdue
            )

    def _headers_overdue(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.debug(
                "%s: headers not complete in %ss; closed", self.client, self.limits.header_timeout
            )
            self.transport.close()

    def _body_overdue(self) -> None:
        self._body_timer = None
        if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow.read_paused:
            # We stopped reading (the application has not taken what arrived): not the
            # client's stall, and its clock starts again when we read again.
            self._last_body_data = now
        idle = now - self._last_body_data
        if idle < self.limits.body_idle_timeout:
            self._body_timer = self.loop.call_later(
                self.limits.body_idle_timeout - idle, self._body_overdue
            )
            return
        log.debug("%s: request body stalled for %.0fs; closed", self.client, idle)
        self.transport.close()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _stop_timers(self) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()


def guarded(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """The protocol class to give uvicorn (``http=``): it instantiates it per connection."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})
