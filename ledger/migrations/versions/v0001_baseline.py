"""Baseline: the service tables as the first release created them (with ``create_all``).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_STR, _WHEN = sa.String(), sa.DateTime(timezone=True)


def tables() -> sa.MetaData:
    """The baseline tables, as Table objects: created here, and created where missing when a
    pre-migration database is adopted (:func:`create_missing`)."""
    metadata = sa.MetaData()
    sa.Table(
        "api_idempotency",
        metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("principal", _STR, nullable=False),
        sa.Column("key", _STR, nullable=False),
        sa.Column("request_sha256", _STR, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.UniqueConstraint("principal", "key"),
    )
    for name, column in (
        ("api_metadata_documents", "canonical_json"),
        ("api_text_documents", "text"),
    ):
        sa.Table(
            name,
            metadata,
            sa.Column("sha256", _STR, primary_key=True),
            sa.Column(column, sa.Text(), nullable=False),
            sa.Column("created_at", _WHEN, nullable=False),
        )
    sa.Table(
        "api_tokens",
        metadata,
        sa.Column("id", _STR, primary_key=True),
        sa.Column("token_sha256", _STR, nullable=False),
        sa.Column("kind", _STR, nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("label", _STR, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.Index("ix_api_tokens_department_id", "department_id"),
        sa.Index("ix_api_tokens_token_sha256", "token_sha256", unique=True),
    )
    sa.Table(
        "relayer_operations",
        metadata,
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("id", _STR, nullable=False),
        sa.Column("kind", _STR, nullable=False),
        sa.Column("contract", _STR, nullable=False),
        sa.Column("function", _STR, nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("signature_nonce", sa.BigInteger(), nullable=True),
        sa.Column("custodial", sa.Boolean(), nullable=False),
        sa.Column("signer", _STR, nullable=True),
        sa.Column("action_type", _STR, nullable=True),
        sa.Column("action_fields", sa.Text(), nullable=True),
        sa.Column("status", _STR, nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("sender", _STR, nullable=True),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", _STR, nullable=True),
        sa.Column("raw_tx", sa.Text(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", _STR, nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("error_code", _STR, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Index("ix_relayer_operations_department_id", "department_id"),
        sa.Index("ix_relayer_operations_id", "id", unique=True),
        sa.Index("ix_relayer_operations_status", "status"),
        sa.Index("ix_relayer_operations_tx_hash", "tx_hash"),
    )
    return metadata


def create_missing(connection: Connection) -> None:
    tables().create_all(connection, checkfirst=True)


def upgrade() -> None:
    tables().create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    tables().drop_all(op.get_bind())
