"""The application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from sqlmodel import Session, select

from api import auditor, docs, errors, openapi
from api.auth import PrincipalCache, issue_token
from api.bodies import BodyLimits
from api.chain_status import ChainStatusHeader
from api.deferred import Replayer
from api.guard import BodyGuard
from api.models import ApiToken
from api.routes import (
    access,
    access_reads,
    batched,
    datasets,
    department_reads,
    departments,
    encryption_keys,
    exports,
    health,
    operations,
    reads,
    receipts,
    rpc,
    sealed,
    verify,
)
from api.throttle import ErrorBudget, ErrorThrottle
from ledger.rpc import RpcLimits, RpcServer
from ledger.runtime import Runtime
from ledger.service.principal import PrincipalKind

log = logging.getLogger(__name__)

GOVERNANCE_TOKEN_FILE = "governance.token"


def bootstrap_governance_token(runtime: Runtime) -> str | None:
    """On first start, create the governance token and write it to a file only the owner can
    read. Returns the file's path when a token was created."""
    with Session(runtime.engine) as session:
        exists = session.exec(
            select(ApiToken).where(ApiToken.kind == PrincipalKind.GOVERNANCE)
        ).first()
        if exists is not None:
            return None
        _, secret = issue_token(session, PrincipalKind.GOVERNANCE, label="bootstrap")
        path = runtime.settings.data_dir / GOVERNANCE_TOKEN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(secret + "\n")
        session.commit()
        return str(path)


def create_app(runtime: Runtime, *, start_workers: bool = True) -> FastAPI:
    """The provledger HTTP API over an opened :class:`Runtime`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Blocking request work runs on this many threads; the database pool is sized for them
        # (ledger.db.pool_size_for), so no request waits on the pool for another's.
        to_thread.current_default_thread_limiter().total_tokens = runtime.settings.http_threads
        created = bootstrap_governance_token(runtime)
        if created:
            log.warning("governance token written to %s (readable by its owner only)", created)
        rpc_server = RpcServer.for_chain(
            runtime.chain, runtime.settings.group(RpcLimits, prefix="rpc_")
        )
        app.state.rpc = rpc_server
        app.state.replayer = replayer = Replayer(
            app, runtime, poll_interval=runtime.settings.indexer_poll_interval
        )
        replaying: asyncio.Task[None] | None = None
        stop_replaying = asyncio.Event()
        if start_workers:
            runtime.start_workers()
            rpc_server.warm()  # serving for real: start the eth_call workers before any call
            replaying = asyncio.create_task(replayer.run(stop_replaying))
        # Everything made so far (py-evm, web3, the contracts' ABIs, the app) lives as long as
        # the process: out of the collector's sight, a full collection walks only what serving
        # makes. Under a flood of connections the full collections came often and each walked
        # a quarter of a million objects: the event loop stood still for 100-260 ms.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop_replaying.set()
            if replaying is not None:
                await replaying
            rpc_server.close()
            if start_workers:
                runtime.stop_workers()

    app = FastAPI(
        title="provledger",
        version="0.1.0",
        summary="Provenance ledger for datasets shared between government departments",
        description="Writes answer 202 with an operation to follow; every answer about the ledger "
        "carries chain coordinates to re-check against any node. Errors are "
        "application/problem+json (RFC 9457).",
        lifespan=lifespan,
        # Served by api.docs from the package's own copies: FastAPI's load them from CDNs.
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.principals = PrincipalCache()
    # Read once: the guard's route table, the reader dependency and the OpenAPI document agree.
    app.state.public_reads = runtime.settings.resolved_public_reads == "open"
    errors.install(app)
    # Matched in this order, first match wins: the paths auditors and nodes call most (verify,
    # /rpc) before the rest; no path of theirs overlaps another router's.
    for module in (
        health,
        verify,
        rpc,
        departments,
        department_reads,
        encryption_keys,
        batched,
        datasets,
        reads,
        exports,
        access,
        access_reads,
        sealed,
        receipts,
        operations,
    ):
        # The routes themselves, not their router: FastAPI matches an included router by
        # walking its routes, and walks the chosen one again to pick the route, so a request
        # to the tenth router paid for ten (a fifth of a cached verification). The routers set
        # no prefix, dependency or option of their own that inclusion would add.
        app.router.routes.extend(module.router.routes)
    docs.install(app)
    auditor.install(app)
    openapi.install(app)
    app.add_middleware(ChainStatusHeader, runtime=runtime)
    app.add_middleware(
        BodyGuard,
        limits=runtime.settings.group(BodyLimits),
        routes=app.router.routes,
        public_reads=app.state.public_reads,
    )
    # Outermost: a client that keeps being refused is refused before anything else runs.
    budget = ErrorBudget(rate=runtime.settings.error_rate, burst=runtime.settings.error_burst)
    app.add_middleware(ErrorThrottle, budget=budget, principals=app.state.principals)
    return app
