"""Idempotency-Key: a retried write returns its first outcome, a reused key with another body
is refused. The record is committed in the same transaction as the write it describes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from api.auth import Principal
from api.models import IdempotencyRecord
from ledger.errors import IdempotencyConflictError


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def replay(
    session: Session, principal: Principal, key: str | None, fingerprint: str
) -> JSONResponse | None:
    """The stored response for ``key``, or None if this is the first time it is seen."""
    if key is None:
        return None
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal.key, IdempotencyRecord.key == key
        )
    ).first()
    if record is None:
        return None
    if record.request_sha256 != fingerprint:
        raise IdempotencyConflictError(
            f"Idempotency-Key {key!r} was used for a different request; use a new key"
        )
    return JSONResponse(
        json.loads(record.body),
        status_code=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


def remember(
    session: Session,
    principal: Principal,
    key: str | None,
    fingerprint: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    """Store the outcome; the caller commits it together with the write."""
    if key is None:
        return
    session.add(
        IdempotencyRecord(
            principal=principal.key,
            key=key,
            request_sha256=fingerprint,
            status_code=status_code,
            body=json.dumps(body),
        )
    )
