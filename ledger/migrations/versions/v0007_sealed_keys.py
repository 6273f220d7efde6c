"""Sealed exchange: sealed versions' content keys, wrapped to each recipient department's key.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_STR = sa.String()


def upgrade() -> None:
    op.create_table(
        "api_sealed_keys",
        sa.Column("dataset_id", _STR, nullable=False),
        sa.Column("sealed_sha256", _STR, nullable=False),
        sa.Column("department_id", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", _STR, nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column("wrapped_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "sealed_sha256", "department_id", "fingerprint"),
    )
    with op.batch_alter_table("api_sealed_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_api_sealed_keys_recipient", ["dataset_id", "department_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("api_sealed_keys")
