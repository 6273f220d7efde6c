"""Idempotency-Key: a retried write returns its first outcome, a reused key with another body
is refused. The record is committed in the same transaction as the write it describes.

A bearer token secret in an answer is never stored (tokens live only as hashes): a replay of
a write that issued one revokes that token, issues its successor and answers with it, so the
caller ends up with exactly one live token, the one it holds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from api.auth import Principal, issue_token, revoke_token
from api.models import ApiToken, IdempotencyRecord, PrincipalKind
from ledger.errors import ConflictError, IdempotencyConflictError


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
    body = json.loads(record.body)
    if body.get(_SECRET) == _REDACTED:
        body = _reissue(session, record, body)
    replayed = {"Idempotent-Replayed": "true"}
    return JSONResponse(body, status_code=record.status_code, headers=replayed)


_SECRET = "token"
_REDACTED = "<redacted>"


def _reissue(session: Session, record: IdempotencyRecord, body: dict[str, Any]) -> dict[str, Any]:
    """The first answer's token replaced by a fresh one; the first is revoked."""
    first = session.get(ApiToken, body["token_id"])
    if first is None or first.revoked_at is not None:
        raise ConflictError(
            {"tokenId": body["token_id"]},
            message=f"the token this request issued ({body['token_id']}) has been revoked since; "
            "ask governance for a new one",
        )
    revoke_token(session, first.id)
    token_id, secret = issue_token(
        session, PrincipalKind(first.kind), department_id=first.department_id, label=first.label
    )
    record.body = json.dumps({**body, "token_id": token_id})
    session.add(record)
    session.commit()
    return {**body, "token_id": token_id, _SECRET: secret}


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
            body=json.dumps({**body, _SECRET: _REDACTED} if body.get(_SECRET) else body),
        )
    )
