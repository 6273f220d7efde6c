"""The SQL index: chain events and the projections built from them.

Everything here is a cache of the chain (design §1): ``index_events`` is the one source, every
other table is a projection that :func:`ledger.index.projections.rebuild` can recompute from it,
and the whole set can be dropped and rebuilt from the chain by ``Indexer.reindex``.

Conventions, chosen so the same schema works on SQLite and PostgreSQL and so a reindex gives
byte-identical rows:

* hashes, ids and addresses are lowercase ``0x`` hex strings (addresses too, so lookups do not
  depend on EIP-55 casing; present them checksummed at the edge if wanted);
* block numbers, department ids, version numbers (``uint32`` exceeds a signed ``INTEGER``),
  timestamps, durations and sizes are ``BIGINT`` (signed 64-bit). The contracts use ``uint64``,
  so a value of 2**63 or more would not fit: block numbers and times never get there, but
  governance *could* enrol a department with such an id, which would stop the indexer at that
  event. Ids are expected to stay small;
* times are chain block times (unix seconds), never the wall clock;
* enum values are lowercase names (``"pending"``, ``"restricted"``…);
* no surrogate keys: every table is keyed by what identifies the row on chain, so indexing the
  same chain twice gives the same rows.

Projections carry the chain coordinates (tx hash, block number, block hash, log index) of the
event that created the row (``created_*``) and, for rows that can change, of the last event that
changed it (``updated_*``), so every answer can be re-checked against any node.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

HASH = 66  # "0x" + 64 hex digits
ADDRESS = 42  # "0x" + 40 hex digits
#: Integer key columns are chain values, never generated (no SERIAL on PostgreSQL).
_NO_AUTO = {"autoincrement": False}


# --- coordinate mixins (non-table bases: SQLModel copies their fields into each table) ---------


class _Created(SQLModel):
    """Where the event that created the row is on the chain."""

    created_tx_hash: str = Field(max_length=HASH)
    created_block_number: int = Field(sa_type=BigInteger)
    created_block_hash: str = Field(max_length=HASH)
    created_log_index: int
    created_at: int = Field(sa_type=BigInteger)  # block time of that event


class _CreatedUpdated(_Created):
    """Plus where the event that last changed the row is (equal to created_* until a change)."""

    updated_tx_hash: str = Field(max_length=HASH)
    updated_block_number: int = Field(sa_type=BigInteger, index=True)
    updated_block_hash: str = Field(max_length=HASH)
    updated_log_index: int
    updated_at: int = Field(sa_type=BigInteger)


# --- indexer bookkeeping -----------------------------------------------------------------------


class IndexState(SQLModel, table=True):
    """Which deployment the index holds and how far it got (one row, ``name="ledger"``).

    The deployment is recorded so an index is never silently extended with another chain's or
    another deployment's events.
    """

    __tablename__ = "index_state"

    name: str = Field(primary_key=True, max_length=32)
    chain_id: int = Field(sa_type=BigInteger)
    department_registry: str = Field(max_length=ADDRESS)
    dataset_registry: str = Field(max_length=ADDRESS)
    access_registry: str = Field(max_length=ADDRESS)
    anchor_registry: str = Field(max_length=ADDRESS)
    # None for a deployment from before the key directory. The column's arrival also makes an
    # index written before it stale, so it is rebuilt with the directory's events from the start.
    key_directory: str | None = Field(default=None, max_length=ADDRESS)
    start_block: int = Field(sa_type=BigInteger)
    last_block_number: int | None = Field(default=None, sa_type=BigInteger)
    last_block_hash: str | None = Field(default=None, max_length=HASH)


class IndexBlock(SQLModel, table=True):
    """Headers of the indexed blocks that matter: every block with events, plus the last
    indexed block. Their hashes are what reorg detection compares against the chain."""

    __tablename__ = "index_blocks"

    number: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTO)
    hash: str = Field(max_length=HASH, unique=True)
    parent_hash: str = Field(max_length=HASH)
    timestamp: int = Field(sa_type=BigInteger)


class IndexEvent(SQLModel, table=True):
    """One decoded contract log: the source every projection is computed from."""

    __tablename__ = "index_events"
    __table_args__ = (
        # Unique only on one branch: orphaned events are deleted before the new branch lands.
        UniqueConstraint("block_number", "log_index", name="uq_index_events_position"),
    )

    block_hash: str = Field(max_length=HASH, primary_key=True)
    log_index: int = Field(primary_key=True, sa_column_kwargs=_NO_AUTO)
    block_number: int = Field(sa_type=BigInteger, index=True)
    block_time: int = Field(sa_type=BigInteger)
    tx_hash: str = Field(max_length=HASH, index=True)
    tx_index: int
    contract: str = Field(max_length=32)  # "DatasetRegistry"…
    address: str = Field(max_length=ADDRESS)
    event: str = Field(max_length=64, index=True)  # "VersionAdded"…
    args: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


# --- projections: departments ------------------------------------------------------------------


class IndexDepartment(_CreatedUpdated, table=True):
    """A department as the events describe it; created_at is its enrolment time."""

    __tablename__ = "index_departments"

    department_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTO)
    name: str = Field(sa_type=Text)
    signer: str = Field(max_length=ADDRESS, index=True)  # current signing key
    status: str = Field(max_length=16)  # "active" | "suspended"
    suspension_reason_hash: str | None = Field(default=None, max_length=HASH)


class IndexDepartmentKey(_CreatedUpdated, table=True):
    """Every signing key a department ever had, and the blocks it was valid in: a signature
    found in an old event is checked against the key valid at that event's block."""

    __tablename__ = "index_department_keys"

    signer: str = Field(max_length=ADDRESS, primary_key=True)  # a key serves one department, ever
    department_id: int = Field(sa_type=BigInteger, index=True)
    valid_from_block: int = Field(sa_type=BigInteger)
    valid_until_block: int | None = Field(default=None, sa_type=BigInteger)  # rotated in this one
    valid_until_time: int | None = Field(default=None, sa_type=BigInteger)


class IndexPauseState(_CreatedUpdated, table=True):
    """The emergency switch of a department registry (``Paused`` / ``Unpaused``)."""

    __tablename__ = "index_pause_state"

    address: str = Field(max_length=ADDRESS, primary_key=True)
    paused: bool
    changed_by: str = Field(max_length=ADDRESS)


class IndexEncryptionKey(_Created, table=True):
    """Every encryption key a department published (``EncryptionKeyPublished``; immutable):
    the full public key lives only in the event, the chain's state keeps its hash by serial.
    created_at is the publication time; the highest serial is the key in force."""

    __tablename__ = "index_encryption_keys"

    department_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTO)
    serial: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTO)
    kem_id: int
    key_hash: str = Field(max_length=HASH, index=True)  # keccak256 of the raw key: a fingerprint
    public_key: str = Field(sa_type=Text)  # 0x hex of the raw key (without the KEM id)


# --- projections: datasets, versions, lineage --------------------------------------------------


class IndexDataset(_CreatedUpdated, table=True):
    """A dataset; version_count and history_head follow its ``VersionAdded`` events."""

    __tablename__ = "index_datasets"

    dataset_id: str = Field(max_length=HASH, primary_key=True)
    owner: int = Field(sa_type=BigInteger, index=True)
    salt: str = Field(max_length=HASH)
    classification: str = Field(max_length=16)
    metadata_hash: str = Field(max_length=HASH)
    status: str = Field(max_length=16)  # "active" | "withdrawn"
    # "chain": created by a DatasetCreated event; "batch": by a record of an anchored batch.
    anchoring: str = Field(default="chain", max_length=8)
    version_count: int = Field(default=0, sa_type=BigInteger)  # uint32: over INTEGER's range
    history_head: str | None = Field(default=None, max_length=HASH)
    withdrawn_reason_hash: str | None = Field(default=None, max_length=HASH)
    withdrawn_at: int | None = Field(default=None, sa_type=BigInteger)


class IndexVersion(_Created, table=True):
    """One registered version (append-only on chain, so no updated_* coordinates)."""

    __tablename__ = "index_versions"

    dataset_id: str = Field(max_length=HASH, primary_key=True)
    version: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTO)
    # Verification looks registrations up by the hash of a file's bytes.
    content_hash: str = Field(max_length=HASH, index=True)
    metadata_hash: str = Field(max_length=HASH)
    department_id: int = Field(sa_type=BigInteger, index=True)
    # The dataset's history chain after this version; None for a batched version, whose
    # integrity rests on its leaf in the anchored root instead.
    history_head: str | None = Field(default=None, max_length=HASH)
    parent_count: int
    # Batched versions: the anchored root, the leaf index and the record digest it commits to.
    anchor_root: str | None = Field(default=None, max_length=HASH, index=True)
    leaf_index: int | None = Field(default=None, sa_type=BigInteger)
    record_digest: str | None = Field(default=None, max_length=HASH)


class IndexVersionParent(_Created, table=True):
    """One lineage edge: (dataset_id, version) was derived from (parent_dataset_id,
    parent_version). Keyed on the child; the index on the parent side finds descendants."""

    __tablename__ = "index_version_parents"
    __table_args__ = (
        Index("ix_index_version_parents_parent", "parent_dataset_id", "parent_version"),
    )

    dataset_id: str = Field(max_length=HASH, primary_key=True)
    version: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs=_NO_AUTO)
    position: int = Field(primary_key=True, sa_column_kwargs=_NO_AUTO)  # order in the event
    parent_dataset_id: str = Field(max_length=HASH)
    parent_version: int = Field(sa_type=BigInteger)


# --- projections: access and anchors -----------------------------------------------------------


class IndexAccessRequest(_CreatedUpdated, table=True):
    """An access request and the grant it may have become; created_at is the request time."""

    __tablename__ = "index_access_requests"
    __table_args__ = (Index("ix_index_access_requests_grant", "dataset_id", "requester", "status"),)

    request_id: str = Field(max_length=HASH, primary_key=True)
    dataset_id: str = Field(max_length=HASH)
    requester: int = Field(sa_type=BigInteger, index=True)
    salt: str = Field(max_length=HASH)
    purpose_hash: str = Field(max_length=HASH)
    requested_duration: int = Field(sa_type=BigInteger)
    # pending | approved | denied | cancelled | revoked | superseded
    status: str = Field(max_length=16)
    expires_at: int | None = Field(default=None, sa_type=BigInteger)  # set on approval
    answered_at: int | None = Field(default=None, sa_type=BigInteger)  # approval or denial time
    deny_reason_hash: str | None = Field(default=None, max_length=HASH)
    revoke_reason_hash: str | None = Field(default=None, max_length=HASH)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)
    superseded_by: str | None = Field(default=None, max_length=HASH)


class IndexAnchor(_Created, table=True):
    """An anchored Merkle batch root (immutable); created_at is the anchoring time."""

    __tablename__ = "index_anchors"

    root: str = Field(max_length=HASH, primary_key=True)
    department_id: int = Field(sa_type=BigInteger, index=True)
    size: int = Field(sa_type=BigInteger)
    metadata_hash: str = Field(max_length=HASH)


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


STATE: Table = _table(IndexState)
BLOCKS: Table = _table(IndexBlock)
EVENTS: Table = _table(IndexEvent)
DEPARTMENTS: Table = _table(IndexDepartment)
DEPARTMENT_KEYS: Table = _table(IndexDepartmentKey)
PAUSE_STATE: Table = _table(IndexPauseState)
ENCRYPTION_KEYS: Table = _table(IndexEncryptionKey)
DATASETS: Table = _table(IndexDataset)
VERSIONS: Table = _table(IndexVersion)
VERSION_PARENTS: Table = _table(IndexVersionParent)
ACCESS_REQUESTS: Table = _table(IndexAccessRequest)
ANCHORS: Table = _table(IndexAnchor)

#: Tables recomputed from ``index_events`` (children before parents is irrelevant: no FKs, so a
#: projection can be rebuilt in any order and a reorg can delete rows in any order).
PROJECTION_TABLES: tuple[Table, ...] = (
    DEPARTMENTS,
    DEPARTMENT_KEYS,
    PAUSE_STATE,
    ENCRYPTION_KEYS,
    DATASETS,
    VERSIONS,
    VERSION_PARENTS,
    ACCESS_REQUESTS,
    ANCHORS,
)

#: Every table of the index, and nothing else: ``reindex`` drops exactly these.
INDEX_TABLES: tuple[Table, ...] = (STATE, BLOCKS, EVENTS, *PROJECTION_TABLES)
