"""Batched anchoring: queued records and anchored batches (ledger/anchoring/models.py).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anchor_batches",
        sa.Column("root", sa.String(length=66), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("operation_id", sa.String(length=40), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("root"),
    )
    with op.batch_alter_table("anchor_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_anchor_batches_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_anchor_batches_operation_id"), ["operation_id"], unique=False
        )

    op.create_table(
        "anchor_queued_records",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.Column("dataset_id", sa.String(length=66), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=66), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch_root", sa.String(length=66), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    with op.batch_alter_table("anchor_queued_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_anchor_queued_records_batch_root"), ["batch_root"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_anchor_queued_records_content_hash"), ["content_hash"], unique=False
        )
        batch_op.create_index(
            "ix_anchor_queued_records_pending", ["department_id", "status", "seq"], unique=False
        )
        batch_op.create_index(
            "uq_anchor_queued_records_version",
            ["dataset_id", "version"],
            unique=True,
            sqlite_where=sa.text("status != 'failed'"),
            postgresql_where=sa.text("status != 'failed'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("anchor_queued_records", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_anchor_queued_records_version",
            sqlite_where=sa.text("status != 'failed'"),
            postgresql_where=sa.text("status != 'failed'"),
        )
        batch_op.drop_index("ix_anchor_queued_records_pending")
        batch_op.drop_index(batch_op.f("ix_anchor_queued_records_content_hash"))
        batch_op.drop_index(batch_op.f("ix_anchor_queued_records_batch_root"))

    op.drop_table("anchor_queued_records")
    with op.batch_alter_table("anchor_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anchor_batches_operation_id"))
        batch_op.drop_index(batch_op.f("ix_anchor_batches_department_id"))

    op.drop_table("anchor_batches")
