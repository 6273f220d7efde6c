"""Delivery receipts: signed acknowledgements of sealed versions received, and their batches.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_receipts",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("dataset_id", sa.String(length=66), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=66), nullable=False),
        sa.Column("sealed_sha256", sa.String(length=66), nullable=False),
        sa.Column("request_id", sa.String(length=66), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=132), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("custodial", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch_root", sa.String(length=66), nullable=True),
        sa.Column("batch_size", sa.BigInteger(), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.Column("operation_id", sa.String(length=40), nullable=True),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_api_receipts_pending", ["department_id", "status", "created_at"], unique=False
        )
        batch_op.create_index("ix_api_receipts_dataset", ["dataset_id", "created_at"], unique=False)
        batch_op.create_index("ix_api_receipts_batch_root", ["batch_root"], unique=False)


def downgrade() -> None:
    op.drop_table("api_receipts")
