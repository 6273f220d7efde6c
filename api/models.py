"""The API's own tables: bearer tokens and idempotency records (the ledger's are in ledger/)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class ApiToken(SQLModel, table=True):
    """A bearer token, stored as its SHA-256 only, bound to exactly one principal."""

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True)  # public id ("tok_…"), safe to log and to revoke by
    token_sha256: str = Field(unique=True, index=True)
    kind: str
    department_id: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    label: str = ""
    created_at: datetime = Field(default_factory=_now)
    revoked_at: datetime | None = None


class IdempotencyState(enum.StrEnum):
    IN_PROGRESS = "in_progress"  # claimed by a request that is doing the work
    DONE = "done"  # the first outcome is stored: retries replay it


class IdempotencyRecord(SQLModel, table=True):
    """A request sent with an ``Idempotency-Key``: claimed while it runs, then its first
    outcome, replayed on retries (:mod:`api.idempotency`)."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    principal: str
    key: str
    request_sha256: str
    state: str = Field(default=IdempotencyState.DONE)
    #: Bumped by every change of state, so a compare-and-set on it has exactly one winner.
    attempt: int = 0
    status_code: int
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)


class DeferredWriteState(enum.StrEnum):
    WAITING = "waiting"  # accepted while the chain was away; not yet run
    REPLAYED = "replayed"  # run once the chain was back: ``operation_id`` is what it queued
    REFUSED = "refused"  # run once the chain was back, and refused: ``error_*`` say why


class DeferredWrite(SQLModel, table=True):
    """A write accepted (202) while the chain was unreachable, to be run when it is back
    (``PROVLEDGER_OUTAGE_WRITES=queue``, :mod:`api.deferred`). ``id`` is the operation id the
    client was given; the write itself is kept as the route would take it again: method, path,
    a JSON body, and who sent it."""

    __tablename__ = "api_deferred_writes"

    seq: int | None = Field(default=None, primary_key=True)
    id: str = Field(unique=True, index=True)
    principal: str  # JSON: kind, token_id, department_id
    department_id: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    method: str
    path: str
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=DeferredWriteState.WAITING, index=True)
    operation_id: str | None = None
    error_code: str | None = None
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
