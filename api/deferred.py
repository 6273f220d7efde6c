"""Writes accepted while the chain was unreachable, run when it is back.

With ``PROVLEDGER_OUTAGE_WRITES=queue`` (the default), a write whose checks need the chain while
the node is away is not refused: it is kept (``api_deferred_writes``, committed with its
idempotency record) and answered 202 with an operation id, status ``pending``
(:func:`api.routes.common.defer`). When the node answers again, the :class:`Replayer` runs each
kept write, oldest first, through the very route that took it: same method, path, JSON body and
principal, and so every check it would have had. A refusal then (the dataset exists, the
department was suspended, a signature no longer fits) fails the operation with the problem's
code; a success links the operation to what the route queued. Each replay carries an
Idempotency-Key of its own, so a replay interrupted by a crash and run again queues nothing twice.

Replays go through the whole application, so errors are translated in the one place they always
are. The principal travels in the ASGI scope, which no client can set; the token check and the
error budget, applied when the write first arrived, are skipped for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Scope

from api.models import DeferredWrite, DeferredWriteState
from ledger.runtime import Runtime
from ledger.service import operations
from ledger.service.operations import OperationView
from ledger.service.principal import Principal, PrincipalKind

log = logging.getLogger(__name__)

#: The ASGI scope key that marks a replay and holds its principal.
REPLAY_SCOPE_KEY = "provledger.replayed_principal"

#: Answers after which a replay is tried again later: the chain or the database is away again,
#: the write's own key is in use (a replay of it still running), or the replayer was throttled.
_LATER = {409: {"idempotency-key-in-use"}, 429: None, 503: None}


def is_replay(connection: HTTPConnection | Scope) -> bool:
    scope = connection.scope if isinstance(connection, HTTPConnection) else connection
    return REPLAY_SCOPE_KEY in scope


def replayed_principal(connection: HTTPConnection) -> Principal | None:
    principal = connection.scope.get(REPLAY_SCOPE_KEY)
    return principal if isinstance(principal, Principal) else None


@dataclass(frozen=True, slots=True)
class Outcome:
    state: DeferredWriteState
    operation_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class Replayer:
    """Runs the kept writes once the chain answers; a background task of the application."""

    def __init__(self, app: ASGIApp, runtime: Runtime, *, poll_interval: float = 1.0) -> None:
        self.app = app
        self.runtime = runtime
        self.poll_interval = poll_interval

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                replayed = await self.replay_waiting()
            except Exception:  # never let one bad row end the task
                log.exception("deferred writes: unexpected error")
                replayed = 0
            if not replayed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)

    async def replay_waiting(self, limit: int = 100) -> int:
        """Replay up to ``limit`` kept writes, oldest first, while the chain answers; how many
        were settled (replayed or refused)."""
        seen = self.runtime.head.current(max_age=self.poll_interval)
        if not seen.reachable:
            return 0
        waiting = await run_in_threadpool(self._waiting, limit)
        settled = 0
        for write in waiting:
            outcome = await self.replay(write)
            if outcome is None:
                break  # away again: keep the order, try later
            await run_in_threadpool(self._record, write.seq, outcome)
            settled += 1
        return settled

    async def replay(self, write: DeferredWrite) -> Outcome | None:
        """Run ``write`` through the application; its outcome, or None to try again later."""
        status, body = await self._call(write)
        code = str(body.get("code", "")) if isinstance(body, dict) else ""
        if status in _LATER and (_LATER[status] is None or code in (_LATER[status] or ())):
            log.info("deferred write %s: %s %s; later", write.id, status, code)
            return None
        if status == 202 and isinstance(body, dict) and body.get("operation_id"):
            log.info("deferred write %s: queued as %s", write.id, body["operation_id"])
            return Outcome(DeferredWriteState.REPLAYED, operation_id=str(body["operation_id"]))
        detail = body.get("detail") if isinstance(body, dict) else None
        name = body.get("error") if isinstance(body, dict) else None
        log.info("deferred write %s: refused, %s %s", write.id, status, code)
        return Outcome(
            DeferredWriteState.REFUSED,
            # A contract's refusal by its error's name, as a failed operation reports it.
            error_code=str(name or code or f"http-{status}"),
            error_message=str(detail or body)[:2000],
        )

    async def _call(self, write: DeferredWrite) -> tuple[int, Any]:
        who = json.loads(write.principal)
        principal = Principal(
            kind=PrincipalKind(who["kind"]),
            token_id=str(who["token_id"]),
            department_id=who.get("department_id"),
        )
        content = write.body.encode()
        headers = [
            (b"host", b"provledger-replayer"),
            (b"idempotency-key", f"deferred:{write.id}".encode()),
        ]
        if content:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ]
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": write.method,
            "scheme": "http",
            "path": write.path,
            "raw_path": write.path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("provledger-replayer", 0),
            "server": ("provledger-replayer", 0),
            REPLAY_SCOPE_KEY: principal,
        }
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": content, "more_body": False}
            return {"type": "http.disconnect"}

        status, chunks = 500, []

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, send)
        try:
            return status, json.loads(b"".join(chunks) or b"null")
        except ValueError:
            return status, None

    def _waiting(self, limit: int) -> list[DeferredWrite]:
        with Session(self.runtime.engine) as session:
            return list(
                session.exec(
                    select(DeferredWrite)
                    .where(DeferredWrite.state == DeferredWriteState.WAITING)
                    .order_by(col(DeferredWrite.seq))
                    .limit(limit)
                ).all()
            )

    def _record(self, seq: int | None, outcome: Outcome) -> None:
        with Session(self.runtime.engine) as session:
            write = session.get(DeferredWrite, seq)
            if write is None or write.state != DeferredWriteState.WAITING:
                return
            write.state = outcome.state
            write.operation_id = outcome.operation_id
            write.error_code = outcome.error_code
            write.error_message = outcome.error_message
            write.attempts += 1
            write.updated_at = datetime.now(UTC)
            session.add(write)
            session.commit()


#: The replay ran as the principal who sent the write; what it became is found for whoever
#: may see the deferred write itself.
_ANYONE = Principal(kind=PrincipalKind.GOVERNANCE, token_id="deferred-lookup")


def deferred_operation(
    session: Session, runtime: Runtime, principal: Principal, operation_id: str
) -> OperationView | None:
    """A write accepted during a chain outage, as an operation: pending until it is run, then
    what it became (under the id the client was given), or failed with the reason it was
    refused. ``None`` if there is none with this id that ``principal`` may see."""
    deferred = session.exec(select(DeferredWrite).where(DeferredWrite.id == operation_id)).first()
    if deferred is None or not operations.visible(principal, deferred.department_id):
        return None
    if deferred.state == DeferredWriteState.REPLAYED and deferred.operation_id:
        became = operations.find_operation(session, runtime, _ANYONE, deferred.operation_id)
        if became is not None:
            return became.under(deferred.id)
    refused = deferred.state == DeferredWriteState.REFUSED
    return operations.unconfirmed(
        runtime,
        deferred.id,
        "deferred",  # what it becomes is known once it has run
        deferred.department_id,
        _contract_of_path(runtime, deferred.path),
        failure=operations.Failure(deferred.error_code or "refused", deferred.error_message or "")
        if refused
        else None,
        result={"deferred": True, "path": deferred.path},
        created_at=deferred.created_at,
        updated_at=deferred.updated_at,
    )


def _contract_of_path(runtime: Runtime, path: str) -> str:
    deployment = runtime.ledger.deployment
    if path.startswith("/v1/access"):
        return deployment.access_registry
    if path.startswith("/v1/departments"):
        return deployment.department_registry
    return deployment.dataset_registry
