"""FastAPI dependencies, as ``Annotated`` aliases.

There is deliberately no database-session dependency: a handler opens its session in its own
body (``with Session(runtime.engine) as session:``), on its request thread, so the session and
its pooled connection live exactly as long as the work. A yield-dependency's session is closed
only after the response is serialised, which for a ``def`` handler waits for a free request
thread; under a burst of requests every waiting response held a connection and the pool ran
dry (``tests/api/test_concurrent_requests.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.auth import PrincipalCache, principal_of, revocation_epoch, token_digest
from api.deferred import replayed_principal
from ledger.runtime import Runtime
from ledger.service.principal import ANONYMOUS, Principal


async def get_runtime(request: Request) -> Runtime:
    # Async, though it does no I/O: FastAPI runs a plain ``def`` dependency on a worker
    # thread, a hop that cost a cached verification a third of its time.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _load_principal(engine: Engine, digest: str) -> Principal:
    with Session(engine) as session:
        return principal_of(session, digest)


#: Declares the bearer scheme in the OpenAPI document; the header itself is read below, so a
#: malformed one gets our own explanation rather than a bare 403.
_BEARER = HTTPBearer(
    auto_error=False,
    description="A provledger token (plk_…): governance, one department, or an auditor.",
)


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> Principal:
    """The principal of the request's bearer token (401 without a valid one)."""
    return await _authenticated(request)


async def get_reader(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> Principal:
    """Who reads what the chain records: the token's principal, or, when the request sends no
    ``Authorization`` header at all and public reads are open (``PROVLEDGER_PUBLIC_READS``),
    the anonymous reader. A header that is sent must hold a valid token: a malformed, unknown
    or revoked one is 401, never a quiet step down to anonymous.

    Deliberately not built on :func:`get_principal`: the transport guard reads a dependency on
    that one as "needs a token" (:func:`api.bodies.policy_of`)."""
    if "authorization" not in request.headers and request.app.state.public_reads:
        return ANONYMOUS
    return await _authenticated(request)


async def _authenticated(request: Request) -> Principal:
    # Async, and without the request's session: a cached principal costs no worker thread and
    # no database connection (see PrincipalCache for why that is safe).
    replayed = replayed_principal(request)
    if replayed is not None:  # a write kept through a chain outage, run now (api/deferred.py)
        return replayed
    digest = token_digest(request.headers.get("authorization"))
    cache: PrincipalCache = request.app.state.principals
    principal = cache.get(digest)
    if principal is None:
        epoch = revocation_epoch()
        engine = request.app.state.runtime.engine
        principal = await run_in_threadpool(_load_principal, engine, digest)
        cache.put(digest, principal, epoch)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
ReaderDep = Annotated[Principal, Depends(get_reader)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retries with the same key and body return the first outcome.",
    ),
]


@dataclass(frozen=True, slots=True)
class Writer:
    """What every write route needs besides its own parameters: the request, the runtime, who
    is calling, and the Idempotency-Key it sent."""

    request: Request
    runtime: Runtime
    principal: Principal
    idempotency_key: str | None


async def get_writer(
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Writer:
    return Writer(request, runtime, principal, idempotency_key)


WriterDep = Annotated[Writer, Depends(get_writer)]


Q = TypeVar("Q")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Asker:
    """What every read route needs: the runtime and who is asking. Calling it runs a read of
    :mod:`ledger.service` in a database session of its own (on the handler's worker thread)."""

    runtime: Runtime
    principal: Principal

    def __call__(self, read: Callable[[Session, Runtime, Principal, Q], R], query: Q) -> R:
        with Session(self.runtime.engine) as session:
            return read(session, self.runtime, self.principal, query)


async def get_asker(runtime: RuntimeDep, principal: PrincipalDep) -> Asker:
    return Asker(runtime, principal)


AskerDep = Annotated[Asker, Depends(get_asker)]


async def get_reader_asker(runtime: RuntimeDep, principal: ReaderDep) -> Asker:
    return Asker(runtime, principal)


#: An :class:`Asker` for the reads of what the chain records: anonymous callers too, where
#: public reads are open (:func:`get_reader`).
ReaderAskerDep = Annotated[Asker, Depends(get_reader_asker)]
