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


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (``sqlite:///path.db`` or ``postgresql+psycopg://…``)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            # The relayer, indexer and request handlers share the engine across threads.
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


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
