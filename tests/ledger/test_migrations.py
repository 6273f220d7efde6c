"""Schema migrations: the revisions build exactly the models' tables, and adopt an old database
without losing a row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import api.models  # noqa: F401  (registers the API's tables on SQLModel.metadata)
import ledger.anchoring.models
import ledger.anchoring.receipts
import ledger.relayer.models
import ledger.service.documents
import ledger.service.sealed  # noqa: F401
from ledger.index.models import INDEX_TABLES
from ledger.migrations import current_revision, upgrade
from ledger.migrations.versions import v0001_baseline
from tests.ledger.empty_databases import empty_database

HEAD = "0008"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(request.param, tmp_path) as engine:
        yield engine


def _differences(engine: Engine) -> list[object]:
    index = {table.name for table in INDEX_TABLES}

    def ours(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table not in index and table != "alembic_version"

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": ours})
        return list(compare_metadata(context, SQLModel.metadata))


def test_the_revisions_build_exactly_the_tables_the_models_describe(engine: Engine) -> None:
    assert _differences(engine)  # an empty database lacks every table: the comparison sees it
    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert _differences(engine) == []


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO api_text_documents (sha256, text, created_at) "
                 "VALUES ('0x01', 'kept', CURRENT_TIMESTAMP)")
        )  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text FROM api_text_documents")).scalar_one() == "kept"


def test_a_database_from_before_migrations_is_adopted_with_its_rows(engine: Engine) -> None:
    # As the first release left it: create_all'd tables, no signer column, no text documents,
    # no alembic_version, and an acknowledged write still in the outbox.
    legacy = v0001_baseline.tables()
    legacy.remove(legacy.tables["api_text_documents"])
    operations = legacy.tables["relayer_operations"]
    operations._columns.remove(operations.c.signer)  # type: ignore[attr-defined]
    legacy.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO relayer_operations (id, kind, contract, function, args, custodial, "
                "status, result, attempts, created_at, updated_at) VALUES ('op_legacy', "
                "'datasets.create', 'DatasetRegistry', 'createDatasetBySig', '[]', true, "
                "'pending', '{}', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )

    upgrade(engine)

    assert current_revision(engine) == HEAD
    assert _differences(engine) == []
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, status, signer FROM relayer_operations")).one()
    assert tuple(row) == ("op_legacy", "pending", None)
    assert {"anchor_queued_records", "anchor_batches", "api_text_documents"} <= set(
        inspect(engine).get_table_names()
    )


def test_a_development_database_with_the_batch_tables_is_adopted_at_their_revision(
    engine: Engine,
) -> None:
    v0001_baseline.tables().create_all(engine)
    batch_tables = [
        SQLModel.metadata.tables[n] for n in ("anchor_queued_records", "anchor_batches")
    ]
    SQLModel.metadata.create_all(engine, tables=batch_tables)
    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert _differences(engine) == []


def test_idempotency_records_from_before_claims_become_finished_outcomes(engine: Engine) -> None:
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO api_idempotency (principal, key, request_sha256, status_code, body, "
                 "created_at) VALUES ('department:1:tok_1', 'k', 'f', 202, '{}', "
                 "CURRENT_TIMESTAMP)")
        )  # fmt: skip
    upgrade(engine)
    assert _differences(engine) == []
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT state, attempt, updated_at = created_at FROM api_idempotency")
        ).one()
    assert tuple(row) == ("done", 0, True)


def test_operations_from_before_the_reorg_watch_count_no_reorg(engine: Engine) -> None:
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO relayer_operations (id, kind, contract, function, args, custodial, "
                 "status, result, attempts, block_number, created_at, updated_at) VALUES "
                 "('op_1', 'datasets.create', 'DatasetRegistry', 'createDatasetBySig', '[]', "
                 "TRUE, 'confirmed', '{}', 1, 7, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        )  # fmt: skip
    upgrade(engine)
    assert _differences(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reorged, status FROM relayer_operations")).one() == (
            0,
            "confirmed",
        )
        assert conn.execute(text("SELECT count(*) FROM relayer_operation_events")).scalar() == 0
