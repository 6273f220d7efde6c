"""SQL engines for the index, the outbox and the API's own tables.

SQLite (a file in the data directory) is the embedded default; PostgreSQL is selected by URL
for deployments with several API replicas. The SQL database is a cache of the chain plus the
durable outbox of not-yet-mined writes, never the source of truth for the ledger itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

#: Threads that may hold a connection besides the request threads: the relayer, the indexer,
#: the batcher and the relayer's background broadcasts, with room to spare.
BACKGROUND_CONNECTIONS = 16


def pool_size_for(request_threads: int) -> tuple[int, int]:
    """(pool size, overflow) for a service running ``request_threads`` request threads.

    Why this size: a request thread holds its connection while it waits on the chain, and a
    few code paths nest a second session. If the pool were smaller than the threads that can
    hold connections, a burst of requests (even refused ones) would make the others wait for
    a connection and time out. With one connection per thread plus as many again in overflow,
    no request ever waits on the pool for another request's chain call.
    """
    return request_threads + BACKGROUND_CONNECTIONS, request_threads


def make_engine(
    url: str,
    *,
    echo: bool = False,
    request_threads: int = 40,
    pool_timeout: float = 10.0,
) -> Engine:
    """An engine for ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://…``), its pool
    sized for ``request_threads`` request threads (:func:`pool_size_for`)."""
    pool_size, max_overflow = pool_size_for(request_threads)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            # The relayer, indexer and request handlers share the engine across threads.
            connect_args={"check_same_thread": False, "timeout": 30},
            **pool,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, **pool)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while the relayer or indexer writes; FULL makes a committed
    # outbox row survive power loss, which is what "acknowledged" promises.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_tables(engine: Engine) -> None:
    """Bring the service's tables to the current schema (alembic revisions, see
    :mod:`ledger.migrations`). The index creates its own tables (it is a rebuildable cache)."""
    from ledger.migrations import upgrade

    upgrade(engine)
