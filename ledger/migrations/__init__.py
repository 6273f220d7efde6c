"""Schema migrations of the service's own tables (alembic), applied on every start.

The service's tables hold what the chain does not: the outbox of acknowledged writes, batched
records, tokens, idempotency records, metadata documents. They must survive upgrades, so they
change only through the revisions in ``versions/``. The SQL index is not here: it is a cache of
the chain, and the indexer drops and rebuilds it when its schema changes (see
``Indexer._create_or_upgrade``).

A database created before migrations existed (tables made by ``create_all``, no
``alembic_version``) is brought to the baseline first: missing baseline tables are created, the
one column added since (``relayer_operations.signer``) is added, and it is stamped at the
baseline; then every later revision runs as usual.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

BASELINE = "0001"
_HERE = Path(__file__).resolve().parent


def config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the service tables of ``engine`` to ``revision`` (default: the newest)."""
    with engine.begin() as connection:
        cfg = config(connection)
        if _is_legacy(connection):
            _adopt_legacy(connection, cfg)
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _is_legacy(connection: Connection) -> bool:
    tables = set(inspect(connection).get_table_names())
    return "relayer_operations" in tables and "alembic_version" not in tables


def _adopt_legacy(connection: Connection, cfg: Config) -> None:
    from alembic.operations import Operations
    from sqlalchemy import Column, String

    from ledger.migrations.versions import v0001_baseline as baseline

    # Tables later sessions added with create_all exist or not; create those that do not.
    baseline.create_missing(connection)
    columns = {c["name"] for c in inspect(connection).get_columns("relayer_operations")}
    if "signer" not in columns:
        context = MigrationContext.configure(connection)
        Operations(context).add_column(
            "relayer_operations", Column("signer", String(), nullable=True)
        )
    # Development builds between batched anchoring and migrations made its tables with
    # create_all too: such a database already holds revision 0002.
    tables = set(inspect(connection).get_table_names())
    batched = {"anchor_queued_records", "anchor_batches"} <= tables
    command.stamp(cfg, "0002" if batched else BASELINE)
