"""The queries a verification makes of the batch queue find their rows by index, on SQLite and
on PostgreSQL: none reads the whole queue, so a verification costs the same at 10,000 records
as at 1,000,000.

The statements checked are the ones the functions really send (captured as they run), each
asked for its plan with the same parameters. SQLite plans without statistics, so its plan is
the one it would use at any size; PostgreSQL would rightly scan a table this small, so it is
asked with sequential scans priced out (``enable_seqscan = off``): if it still scans, no index
can serve the query.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ledger.anchoring.models import AnchorBatch, QueuedRecord, RecordStatus
from ledger.anchoring.queue import anchored_candidates, batch_contents
from ledger.migrations import upgrade
from tests.ledger.empty_databases import empty_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(request.param, tmp_path) as engine:
        upgrade(engine)
        yield engine


def sent(engine: Engine, run: Any) -> list[tuple[str, Any]]:
    """The statements (with their parameters) that ``run(session)`` sends."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            run(session)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]


def plan(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        cursor = driver.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def scans(engine: Engine, text_of_plan: str) -> bool:
    if engine.dialect.name == "sqlite":
        return "SCAN anchor_queued_records" in text_of_plan
    return "Seq Scan on anchor_queued_records" in text_of_plan


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(lambda s: anchored_candidates(s, "0x" + "ab" * 32), id="candidates"),
        pytest.param(
            lambda s: batch_contents(s, ["0x" + "cd" * 32, "0x" + "ef" * 32]), id="batch-contents"
        ),
    ],
)
def test_a_verification_query_reads_the_queue_by_index(engine: Engine, query: Any) -> None:
    # A batched record of the hash, for the withdrawn-datasets lookup to be sent at all.
    root = "0x" + "cd" * 32
    with Session(engine) as session:
        session.add(AnchorBatch(root=root, department_id=1, size=1, operation_id="op"))
        session.add(
            QueuedRecord(
                kind="create",
                department_id=1,
                dataset_id="0x" + "11" * 32,
                version=1,
                content_hash="0x" + "ab" * 32,
                digest="0x" + "ab" * 32,
                record="{}",
                status=RecordStatus.BATCHED,
                batch_root=root,
            )
        )
        session.commit()
    statements = sent(engine, query)
    assert statements
    for statement, parameters in statements:
        assert not scans(engine, plan(engine, statement, parameters)), statement
