"""Surviving the chain: operations watched until final (how often one was reorged, what the
relayer saw), and writes accepted during a chain outage, kept until it ends.

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
        # Recovery reads the settled operations at or above the account's mined count.
        batch_op.create_index("ix_relayer_operations_tx_nonce", ["tx_nonce"])
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

    op.create_table(
        "api_deferred_writes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("id", _STR, nullable=False),
        sa.Column("principal", _STR, nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=True),
        sa.Column("method", _STR, nullable=False),
        sa.Column("path", _STR, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", _STR, nullable=False),
        sa.Column("operation_id", _STR, nullable=True),
        sa.Column("error_code", _STR, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("api_deferred_writes", schema=None) as batch_op:
        batch_op.create_index("ix_api_deferred_writes_id", ["id"], unique=True)
        batch_op.create_index("ix_api_deferred_writes_department_id", ["department_id"])
        batch_op.create_index("ix_api_deferred_writes_state", ["state"])


def downgrade() -> None:
    op.drop_table("api_deferred_writes")
    op.drop_table("relayer_operation_events")
    with op.batch_alter_table("relayer_operations", schema=None) as batch_op:
        batch_op.drop_index("ix_relayer_operations_tx_nonce")
        batch_op.drop_index("ix_relayer_operations_block_number")
        batch_op.drop_column("reorged")
