"""The embedded chain's database: py-evm's key-value store and side tables in one SQLite file.

py-evm writes into :class:`SQLiteKeyValueStore`, which keeps the writes in memory and commits
them, together with rows for side tables (the log table of :mod:`ledger.chain.embedded_logs`),
in one SQLite transaction per :meth:`~SQLiteKeyValueStore.flush`. So a side table is exactly as
durable as the blocks it describes: a crash keeps both or neither.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

from eth.db.backends.base import BaseDB

from ledger.errors import ChainError, ChainUnavailableError

Synchronous = Literal["FULL", "NORMAL"]

#: Rows for a side table, written in the same transaction as a flush's key-value writes: an
#: ``INSERT`` statement and its parameter rows.
SideWrite = tuple[str, Sequence[Sequence[Any]]]


class SQLiteKeyValueStore(BaseDB):
    """py-evm's key-value store over one SQLite file, committed once per :meth:`flush`.

    Writes go to an in-memory buffer that reads consult first; :meth:`flush` writes the buffer
    in one transaction. The file is opened in WAL mode with an exclusive lock held until
    :meth:`close`, so a second process cannot open the same chain and fork it.

    ``synchronous="FULL"`` (the default) fsyncs the WAL at every commit, so a commit survives
    power loss; ``"NORMAL"`` skips that fsync and survives only process crashes (``kill -9``),
    because a committed WAL frame is then still in the OS page cache. Not thread-safe: the
    embedded chain's lock serialises every use.
    """

    def __init__(self, path: Path, *, synchronous: Synchronous = "FULL", cache_mib: int = 64):
        # timeout=0: the only contender for the lock is another process opening the same chain,
        # and it should be told at once rather than after SQLite's default 5 s of retries.
        self._db = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        self._pending: dict[bytes, bytes | None] = {}  # None marks a delete
        self._failed: BaseException | None = None
        self.closed = False
        try:
            # Exclusive before WAL: then SQLite keeps the WAL index in heap memory (no -shm file)
            # and the lock, taken by the first write below, is held until close.
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
            self._db.execute("PRAGMA journal_size_limit=67108864")  # truncate a grown WAL
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
            )
            self._db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, not at block 1
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._db.close()
            raise

    def __getitem__(self, key: bytes) -> bytes:
        self._check()
        if key in self._pending:
            value = self._pending[key]
            if value is None:
                raise KeyError(key)
            return value
        row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return cast(bytes, row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._check()
        self._pending[key] = value

    def __delitem__(self, key: bytes) -> None:
        # ``in`` is Mapping's: a lookup through the buffer, so a buffered delete counts as absent.
        if key not in self:
            raise KeyError(key)
        self._pending[key] = None

    def create_schema(self, statements: Sequence[str]) -> None:
        """Create side tables and indexes (``CREATE … IF NOT EXISTS`` statements), at once."""
        self._check()
        self._db.execute("BEGIN")
        try:
            for statement in statements:
                self._db.execute(statement)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query on the committed side tables (buffered writes are not visible)."""
        self._check()
        return self._db.execute(sql, params).fetchall()

    def flush(self, side_writes: Sequence[SideWrite] = ()) -> None:
        """Commit every buffered write and ``side_writes`` in one SQLite transaction (nothing,
        if there is nothing to write)."""
        self._check()
        if not self._pending and not any(rows for _, rows in side_writes):
            return
        try:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
                [(k, v) for k, v in self._pending.items() if v is not None],
            )
            self._db.executemany(
                "DELETE FROM kv WHERE k = ?", [(k,) for k, v in self._pending.items() if v is None]
            )
            for statement, rows in side_writes:
                self._db.executemany(statement, rows)
            self._db.execute("COMMIT")
        except BaseException as exc:
            # The in-memory chain is now ahead of the disk. Carrying on would let a block whose
            # sender saw an error become durable later, so refuse all use until re-opened.
            self._failed = exc
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def close(self, *, flush: bool = True) -> None:
        """Flush (unless told not to), then close the file; SQLite checkpoints and removes
        the WAL."""
        if self.closed:
            return
        try:
            if flush and self._failed is None:
                self.flush()
        finally:
            self._db.close()
            self.closed = True

    def _check(self) -> None:
        if self.closed:
            raise ChainUnavailableError("the embedded chain is closed")
        if self._failed is not None:
            raise ChainError(f"the chain database failed to commit; re-open it: {self._failed}")


__all__ = ["SQLiteKeyValueStore", "SideWrite", "Synchronous"]
