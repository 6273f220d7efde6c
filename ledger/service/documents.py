"""What the chain holds only by hash: canonical metadata documents and the texts of purposes
and reasons, stored here by their SHA-256 so that the parties can read them and anyone shown
one can check it against the commitment on chain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Text, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel

from ledger.hashing import canonical_json, sha256_bytes


def _now() -> datetime:
    return datetime.now(UTC)


class MetadataDocument(SQLModel, table=True):
    """Canonical (RFC 8785) metadata, stored by its SHA-256: the chain holds only the hash, so
    anyone given this document can check it against the chain."""

    __tablename__ = "api_metadata_documents"

    sha256: str = Field(primary_key=True)  # 0x-hex
    canonical_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_now)


class TextDocument(SQLModel, table=True):
    """A free-text purpose or reason, stored by its SHA-256: the chain holds only the hash, the
    parties read the words here (and can check them against the chain)."""

    __tablename__ = "api_text_documents"

    sha256: str = Field(primary_key=True)  # 0x-hex
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_now)


def store_metadata(session: Session, document: dict[str, Any]) -> bytes:
    """Keep the canonical metadata document; returns its SHA-256 (the on-chain commitment)."""
    return store_metadata_many(session, [document])[0]


def store_metadata_many(session: Session, documents: list[dict[str, Any]]) -> list[bytes]:
    """:func:`store_metadata` for many documents, in one statement."""
    canonical = [canonical_json(document) for document in documents]
    digests = [sha256_bytes(text).hex() for text in canonical]
    rows = {
        d: {"sha256": d, "canonical_json": t.decode()}
        for d, t in zip(digests, canonical, strict=True)
    }
    _insert_documents(session, MetadataDocument, list(rows.values()))
    return [bytes.fromhex(d[2:]) for d in digests]


def text_commitment(session: Session, text: str) -> bytes:
    """SHA-256 of a free-text reason or purpose, as committed on chain (zero when empty): the
    text itself stays off chain, kept here for the parties to read; its hash proves what was
    said."""
    if not text:
        return bytes(32)
    digest = bytes(sha256_bytes(text.encode()))
    _insert_documents(session, TextDocument, [{"sha256": "0x" + digest.hex(), "text": text}])
    return digest


#: Documents a session will insert when it commits (see :func:`_insert_documents`).
_PENDING_DOCUMENTS = "provledger.pending_documents"


def _insert_documents(
    session: Session, model: type[MetadataDocument] | type[TextDocument], rows: list[dict[str, Any]]
) -> None:
    """Insert content-addressed documents when ``session`` commits, skipping those stored.

    Why at commit: a write reads the chain (department status, nonces, block time) between
    computing a commitment and queuing its operation. On SQLite the first insert takes the
    database's one write lock, held to the commit; taken early, every concurrent write queued
    behind this one's chain reads, and under a burst some waited past the lock timeout.

    Why ``ON CONFLICT DO NOTHING`` rather than look-then-insert: two requests storing the same
    document at once would both see it missing and the second insert would fail (a 500 under
    load). A document's key is its hash, so an existing row already holds exactly this content.
    """
    now = datetime.now(UTC)
    pending = session.info.setdefault(_PENDING_DOCUMENTS, [])
    pending.append((model, [{**row, "created_at": now} for row in rows]))
    if not event.contains(session, "before_commit", _write_documents):
        event.listen(session, "before_commit", _write_documents)
        event.listen(session, "after_rollback", _forget_documents)


def _write_documents(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    for model, rows in session.info.pop(_PENDING_DOCUMENTS, []):
        for start in range(0, len(rows), 500):
            session.execute(insert(model).on_conflict_do_nothing(), rows[start : start + 500])


def _forget_documents(session: Session) -> None:
    session.info.pop(_PENDING_DOCUMENTS, None)


def stored_text(session: Session, commitment: str | None) -> str | None:
    """The text behind a commitment, if this service kept it."""
    if commitment is None or int(commitment, 16) == 0:
        return None
    document = session.get(TextDocument, commitment)
    return document.text if document is not None else None
