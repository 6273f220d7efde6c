"""Idempotency claims: a record is claimed (``in_progress``) before its request does the work.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every record written before claims existed is a finished request's outcome.
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(), nullable=False, server_default="done"))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE api_idempotency SET updated_at = created_at")
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.alter_column("state", server_default=None)
        batch_op.alter_column("attempt", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("api_idempotency", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("attempt")
        batch_op.drop_column("state")
