"""An outbox in a temporary SQLite database and a relayer over the shared test chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from ledger.chain.deploy import Ledger
from ledger.db import create_tables, make_engine
from ledger.relayer import Relayer
from tests.ledger.relayer.rows import DEPT_A, DEPT_B, custody


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def relayer(ledger: Ledger, engine: Engine, actors: Any) -> Relayer:
    keys = custody({DEPT_A: [actors.dept_a], DEPT_B: [actors.dept_b]})
    return Relayer(ledger=ledger, engine=engine, account=actors.governance, keys=keys)
