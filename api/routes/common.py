"""Helpers shared by the write routes: run a write idempotently in a session of its own,
acknowledge it (202), store metadata and text commitments."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from api.auth import Principal
from api.idempotency import Idempotency, request_fingerprint
from api.models import MetadataDocument, TextDocument
from ledger.hashing import canonical_json, sha256_bytes
from ledger.relayer import Operation
from ledger.runtime import Runtime

#: The body of a write: it runs in ``session`` and answers (committing through ``accepted``).
Write = Callable[[Session, Idempotency], JSONResponse]


def fingerprint_of(request: Request, body: BaseModel | None) -> str:
    """What identifies a write for its Idempotency-Key: method, path and the parsed body in
    its canonical form (so a retry that differs only in whitespace or key order is the same)."""
    content = body.model_dump_json().encode() if body is not None else b""
    return request_fingerprint(request.method, request.url.path, content)


def idempotent_write(
    runtime: Runtime,
    principal: Principal,
    idempotency_key: str | None,
    fingerprint: str,
    write: Write,
) -> JSONResponse:
    """Run ``write`` in a database session of its own, once per Idempotency-Key.

    Blocking (SQL, chain reads, signing): call it from a worker thread (plain ``def`` handlers
    run in one; ``async`` handlers ``await run_in_threadpool(...)``), never on the event loop.
    The session, and its pooled connection, live exactly as long as the write.
    """
    with Session(runtime.engine) as session:
        idempotency = Idempotency(session, principal, idempotency_key, fingerprint)
        if (first := idempotency.replay_or_claim()) is not None:
            return first
        with idempotency.released_on_error():
            return write(session, idempotency)


def accepted(
    request: Request,
    session: Session,
    idempotency: Idempotency,
    op: Operation,
    *,
    resource: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
) -> JSONResponse:
    """Commit the write with its idempotency record and answer 202 Accepted."""
    payload = body or {
        "operation_id": op.id,
        "operation_url": str(request.url_for("get_operation", operation_id=op.id)),
        "status": op.status,
        "resource": resource or {},
    }
    idempotency.remember(202, payload)
    session.commit()
    return JSONResponse(
        payload, status_code=202, headers={"Location": payload.get("operation_url", "")}
    )


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


def load_json(text: str) -> Any:
    return json.loads(text)
