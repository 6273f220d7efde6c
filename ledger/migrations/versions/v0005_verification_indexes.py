"""Verification at any ledger size: a batched dataset's withdraw records found by index.

Verifying a batched record asks whether its dataset was withdrawn by a later batched record;
the only index on ``dataset_id`` is partial (live records' version numbers), which that query
cannot use, so it read the whole queue.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


_INDEX = "ix_anchor_queued_records_dataset_kind"


def upgrade() -> None:
    # A database adopted at 0002 had its batch tables made from the models of its day, which
    # may already hold this index.
    existing = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("anchor_queued_records")}
    if _INDEX in existing:
        return
    with op.batch_alter_table("anchor_queued_records", schema=None) as batch_op:
        batch_op.create_index(_INDEX, ["dataset_id", "kind"])


def downgrade() -> None:
    with op.batch_alter_table("anchor_queued_records", schema=None) as batch_op:
        batch_op.drop_index(_INDEX)
