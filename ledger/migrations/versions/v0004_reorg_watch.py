"""Operations watched until final: how often one was reorged, and what the relayer saw.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STR, _WHEN = sa.String(), sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("relayer_operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reorged", sa.Integer(), nullable=False, server_default="0"))
        # The watch reads the settled operations above the finalized block.
        batch_op.create_index("ix_relayer_operations_block_number", ["block_number"])
    with op.batch_alter_table("relayer_operations", schema=None) as batch_op:
        batch_op.alter_column("reorged", server_default=None)
    op.create_table(
        "relayer_operation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", _STR, nullable=True),
        sa.Column("event", _STR, nullable=False),
        sa.Column("tx_hash", _STR, nullable=True),
        sa.Column("tx_nonce", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", _STR, nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("relayer_operation_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_relayer_operation_events_operation_id", ["operation_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("relayer_operation_events")
    with op.batch_alter_table("relayer_operations", schema=None) as batch_op:
        batch_op.drop_index("ix_relayer_operations_block_number")
        batch_op.drop_column("reorged")
