"""The transport guard: every request passes here before routing and parsing.

A pure ASGI middleware that bounds what a client can make the service hold or parse, before
the route's handler, FastAPI or any parser sees the body:

* a route that needs a token answers 401 to a request without a well-formed ``Authorization``
  header before reading a byte of its body (the token itself is checked by the dependency); a
  public read (token optional, :class:`~api.bodies.Token`) answers 401 to a malformed header
  the same way, and to an upload without a token: anonymous callers send JSON, not files;
* a body is bounded by its route and content type (:class:`~api.bodies.BodyLimits`): a declared
  ``Content-Length`` over the limit is refused at once, an undeclared (chunked) body is counted
  as it arrives and cut off at the limit;
* uploads (multipart or octet-stream, to routes declared ``Body.UPLOAD``) stream through,
  counted, never buffered (:mod:`api.uploads` hashes them as they arrive);
* every other body is read here (it is bounded) while :class:`~ledger.jsonguard.JsonScanner`
  scans it if it may be parsed as JSON, and handed on only if it nests no deeper than allowed.

Refusals are problem documents made by :mod:`api.errors`, with ``Connection: close`` whenever
the body was not read to its end, so the server drops the connection instead of draining it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from starlette.datastructures import Headers
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import token_digest
from api.bodies import Body, BodyLimits, RouteTable, Token
from api.deferred import is_replay
from api.errors import ledger_problem
from api.uploads import ANONYMOUS_UPLOAD
from ledger.errors import (
    AuthenticationError,
    BlobTooLargeError,
    BodyTooLargeError,
    InvalidInputError,
    LedgerError,
    UploadTooLargeError,
)
from ledger.jsonguard import JsonScanner

_STREAMED_TYPES = ("multipart/form-data", "application/octet-stream")


class BodyGuard:
    """The middleware; ``routes`` is the application router's list of routes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: BodyLimits,
        routes: Sequence[BaseRoute],
        public_reads: bool = False,
    ) -> None:
        self.app = app
        self.limits = limits
        self.routes = RouteTable(routes, public_reads=public_reads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, receive, send)
        try:
            admitted = await self._admit(scope, exchange)
        except LedgerError as exc:
            await ledger_problem(exc)(scope, exchange.receive, exchange.send)
            return
        if admitted is not None:
            await self.app(scope, admitted, exchange.send)

    async def _admit(self, scope: Scope, exchange: _Exchange) -> Receive | None:
        """The ``receive`` the application gets, or None when the client left; raises the
        refusal otherwise."""
        policy = self.routes.policy(scope)
        headers = exchange.headers
        replayed = is_replay(scope)
        sent = "authorization" in headers
        if not replayed and (
            policy.token is Token.REQUIRED or (policy.token is Token.OPTIONAL and sent)
        ):
            token_digest(headers.get("authorization"))  # raises AuthenticationError (401)
        if not exchange.expects_body:
            return exchange.receive
        media_type = ",".join(headers.getlist("content-type")).lower()
        if policy.body is Body.SEALED:
            cap = self.limits.max_sealed_bytes
            if media_type.split(";")[0].strip() != "application/octet-stream":
                raise InvalidInputError("sealed bytes come as an application/octet-stream body")
            if exchange.declared_length is not None and exchange.declared_length > cap:
                raise _sealed_too_large(self.limits)
            return exchange.counted(cap, lambda: _sealed_too_large(self.limits))
        if policy.body is Body.UPLOAD and media_type.startswith(_STREAMED_TYPES):
            if policy.token is Token.OPTIONAL and not sent and not replayed:
                raise AuthenticationError(ANONYMOUS_UPLOAD)
            cap = self.limits.streamed_bytes
            if exchange.declared_length is not None and exchange.declared_length > cap:
                raise _upload_too_large(self.limits)
            return exchange.counted(cap, lambda: _upload_too_large(self.limits))
        cap = self.limits.buffered_bytes(policy.body)
        if exchange.declared_length is not None and exchange.declared_length > cap:
            raise BodyTooLargeError(
                f"the request body is {exchange.declared_length} bytes; "
                f"this endpoint takes at most {cap}"
            )
        # Any content type naming JSON: a superset of what FastAPI and the handlers parse.
        scanner = (
            JsonScanner(max_depth=self.limits.max_json_depth)
            if ("json" in media_type or policy.body.always_json)
            and not policy.body.scans_its_own_json
            else None
        )
        chunks = await exchange.read(cap, scanner)
        return None if chunks is None else exchange.replay(chunks)


def _sealed_too_large(limits: BodyLimits) -> BlobTooLargeError:
    return BlobTooLargeError(f"the blob store takes at most {limits.max_sealed_bytes} bytes")


def _upload_too_large(limits: BodyLimits) -> UploadTooLargeError:
    return UploadTooLargeError(
        f"the upload exceeds {limits.max_upload_bytes} bytes (with up to "
        f"{limits.streamed_bytes - limits.max_upload_bytes} more for the form around it)"
    )


class _Exchange:
    """One request's body as the guard and the application read it, and its response, which
    gets ``Connection: close`` if it starts before the body was read to its end."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.headers = Headers(scope=scope)
        self._receive = receive
        self._send = send
        self.declared_length = _declared_length(self.headers)
        self.expects_body = "transfer-encoding" in self.headers or bool(self.declared_length)
        self.body_done = not self.expects_body

    async def receive(self) -> Message:
        message = await self._receive()
        self._note(message)
        return message

    def _note(self, message: Message) -> None:
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            self.body_done = True

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.body_done:
            # The rest of the body is not wanted: without this the server would read and
            # discard it, for as long as the client cares to send.
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)

    async def read(self, cap: int, scanner: JsonScanner | None) -> list[bytes] | None:
        """The whole body (at most ``cap`` bytes, scanned by ``scanner`` as it arrives), or None
        if the client disconnected first."""
        chunks: list[bytes] = []
        size = 0
        while not self.body_done:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise BodyTooLargeError(
                    f"the request body is over {cap} bytes; this endpoint takes at most {cap}"
                )
            if scanner is not None:
                scanner.feed(chunk)
            chunks.append(chunk)
        if scanner is not None:
            scanner.finish()
        return chunks

    def replay(self, chunks: list[bytes]) -> Receive:
        """A ``receive`` that hands on the body read, then the server's own messages."""
        pending = deque(chunks or [b""])

        async def receive() -> Message:
            if pending:
                chunk = pending.popleft()
                return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
            return await self.receive()  # after the body: the disconnect, when it comes

        return receive

    def counted(self, cap: int, refusal: Callable[[], LedgerError]) -> Receive:
        """A ``receive`` that passes the body on as it arrives, refusing it past ``cap``."""
        received = 0

        async def receive() -> Message:
            nonlocal received
            message = await self.receive()
            received += len(message.get("body", b""))
            if received > cap:
                raise refusal()
            return message

        return receive


def _declared_length(headers: Headers) -> int | None:
    # The server (h11) has checked the header's syntax and that the body matches it.
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None
