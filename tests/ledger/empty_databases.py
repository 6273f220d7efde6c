"""An empty database of either kind the service runs on, for tests that build their schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from ledger.db import make_engine


@contextmanager
def empty_database(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite file, or the PostgreSQL test database emptied before and after (skipped
    when ``PROVLEDGER_TEST_DATABASE_URL`` names none)."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    else:
        url = os.environ.get("PROVLEDGER_TEST_DATABASE_URL")
        if not url:
            pytest.skip("PROVLEDGER_TEST_DATABASE_URL is not set: no PostgreSQL to run against")
        engine = make_engine(url)
        _drop(engine)
    try:
        yield engine
    finally:
        if kind == "postgresql":
            _drop(engine)
        engine.dispose()


def _drop(engine: Engine) -> None:
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
