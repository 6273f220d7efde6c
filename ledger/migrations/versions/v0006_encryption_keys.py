"""Departments' encryption keys (issue 13): the index reads the key directory.

Nothing of the service's own tables changes. The new table, ``index_encryption_keys``, and the
new ``index_state.key_directory`` column are the index's, which is a cache of the chain that the
indexer creates and rebuilds itself (``Indexer._create_or_upgrade``; migrations leave the
``index_*`` tables alone): an index written before this revision lacks that column, so it is
dropped and rebuilt from the chain, the key directory's events from the deployment's first
block included. The revision marks the schema in which that holds, and is where later ones
continue from.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
