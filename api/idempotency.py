"""Idempotency-Key: a retried write returns its first outcome, a reused key with another body
is refused, and concurrent requests with one key never both act.

How (the shape of the IETF ``Idempotency-Key`` draft and of Stripe's API):

1. Before the work, the key is **claimed**: an ``in_progress`` record is committed on its own.
   The unique ``(principal, key)`` constraint lets exactly one concurrent request insert it;
   the others find it and are answered 409 ``idempotency-key-in-use`` (retry later), or, once
   it is ``done``, the first outcome.
2. The work's own transaction turns the claim ``done`` with the outcome, so the outcome is
   committed together with the write it describes, or not at all.
3. A request that fails releases its claim (a retry may try again). A claim whose holder died
   (``kill -9`` between 1 and 2) is taken over once it is older than :data:`CLAIM_LEASE`.

A bearer token secret in an answer is never stored (tokens live only as hashes): a replay of
a write that issued one revokes that token, issues its successor and answers with it, so the
caller ends up with exactly one live token, the one it holds. That replay is itself a write;
it claims the record (``done`` → ``in_progress``) first, so concurrent replays never leave two
live successors.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.auth import issue_token, revoke_token
from api.models import ApiToken, IdempotencyRecord, IdempotencyState
from ledger.errors import ConflictError, IdempotencyConflictError, IdempotencyInProgressError
from ledger.service.principal import Principal, PrincipalKind

log = logging.getLogger(__name__)

#: A claim older than this is presumed abandoned (its holder died) and may be taken over.
CLAIM_LEASE = timedelta(seconds=120)

_SECRET = "token"
_REDACTED = "<redacted>"


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Idempotency:
    """The idempotency of one write request, over the request's session.

    ``key`` None (no ``Idempotency-Key`` header) makes every method a no-op. Use::

        idem = Idempotency(session, principal, key, fingerprint)
        if (first := idem.replay_or_claim()) is not None:
            return first
        with idem.released_on_error():
            ...  # the write, in ``session``
            idem.remember(202, payload)
            session.commit()
    """

    def __init__(
        self, session: Session, principal: Principal, key: str | None, fingerprint: str
    ) -> None:
        self.session = session
        self.principal = principal
        self.key = key
        self.fingerprint = fingerprint
        self._claim_id: int | None = None

    # --- before the work ------------------------------------------------------------------

    def replay_or_claim(self) -> JSONResponse | None:
        """The first outcome of this request, or None after claiming the key for it.

        Raises :class:`IdempotencyConflictError` when the key was used with another request,
        :class:`IdempotencyInProgressError` while another request holds the key.
        """
        if self.key is None:
            return None
        for _ in range(3):  # a claim can vanish (released) between our insert and our read
            record = self._find()
            if record is None:
                if self._insert_claim():
                    return None
                continue
            if record.request_sha256 != self.fingerprint:
                raise IdempotencyConflictError(
                    f"Idempotency-Key {self.key!r} was used for a different request; use a new key"
                )
            if record.state == IdempotencyState.IN_PROGRESS:
                if not self._take_over_abandoned(record):
                    raise IdempotencyInProgressError(
                        f"a request with Idempotency-Key {self.key!r} is still being processed; "
                        "retry shortly"
                    )
                return None
            return self._replay(record)
        raise IdempotencyInProgressError(
            f"Idempotency-Key {self.key!r} is contended; retry shortly"
        )

    def _find(self) -> IdempotencyRecord | None:
        self.session.expire_all()  # read what is committed now, not what this session saw
        return self.session.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == self.principal.key,
                IdempotencyRecord.key == self.key,
            )
        ).first()

    def _insert_claim(self) -> bool:
        assert self.key is not None
        record = IdempotencyRecord(
            principal=self.principal.key,
            key=self.key,
            request_sha256=self.fingerprint,
            state=IdempotencyState.IN_PROGRESS,
            status_code=0,
            body="",
        )
        self.session.add(record)
        try:
            self.session.commit()
        except IntegrityError:
            self.session.rollback()  # a concurrent request claimed it first
            return False
        self._claim_id = record.id
        return True

    def _take_over_abandoned(self, record: IdempotencyRecord) -> bool:
        """Claim ``record`` if its holder has presumably died; whether we now hold it."""
        if _now() - _aware(record.updated_at) < CLAIM_LEASE:
            return False
        return self._transition(record, IdempotencyState.IN_PROGRESS)

    def _transition(self, record: IdempotencyRecord, new: IdempotencyState) -> bool:
        """Compare-and-set: move ``record`` from the state and attempt we read to ``new``.
        Exactly one of several concurrent callers wins, whatever the isolation level; the
        winner holds the claim."""
        assert record.id is not None
        result = self.session.exec(
            update(IdempotencyRecord)
            .where(
                col(IdempotencyRecord.id) == record.id,
                col(IdempotencyRecord.state) == record.state,
                col(IdempotencyRecord.attempt) == record.attempt,
            )
            .values(state=new, attempt=record.attempt + 1, updated_at=_now())
        )
        self.session.commit()
        if result.rowcount != 1:
            return False
        self._claim_id = record.id
        return True

    def _replay(self, record: IdempotencyRecord) -> JSONResponse:
        body = json.loads(record.body)
        if body.get(_SECRET) == _REDACTED:
            if not self._transition(record, IdempotencyState.IN_PROGRESS):
                raise IdempotencyInProgressError(
                    f"a retry with Idempotency-Key {self.key!r} is being answered; retry shortly"
                )
            with self.released_on_error(restore=IdempotencyState.DONE):
                body = self._reissue(body)
        replayed = {"Idempotent-Replayed": "true"}
        return JSONResponse(body, status_code=record.status_code, headers=replayed)

    def _reissue(self, body: dict[str, Any]) -> dict[str, Any]:
        """The first answer's token replaced by a fresh one; the first is revoked."""
        session = self.session
        first = session.get(ApiToken, body["token_id"])
        if first is None or first.revoked_at is not None:
            raise ConflictError(
                {"tokenId": body["token_id"]},
                message=f"the token this request issued ({body['token_id']}) has been revoked "
                "since; ask governance for a new one",
            )
        revoke_token(session, first.id)
        token_id, secret = issue_token(
            session,
            PrincipalKind(first.kind),
            department_id=first.department_id,
            label=first.label,
        )
        stored = {**body, "token_id": token_id}
        self.remember(None, stored)
        session.commit()
        return {**stored, _SECRET: secret}

    # --- after the work -------------------------------------------------------------------

    def remember(self, status_code: int | None, body: dict[str, Any]) -> None:
        """Turn the claim ``done`` with this outcome (``status_code`` None: the stored one), in
        the session's transaction: the caller commits it together with the write."""
        if self._claim_id is None:
            return
        record = self.session.get(IdempotencyRecord, self._claim_id)
        assert record is not None, "a held claim is never deleted by anyone else"
        record.state = IdempotencyState.DONE
        record.attempt += 1
        if status_code is not None:
            record.status_code = status_code
        record.body = json.dumps({**body, _SECRET: _REDACTED} if body.get(_SECRET) else body)
        record.updated_at = _now()
        self.session.add(record)

    @contextmanager
    def released_on_error(self, *, restore: IdempotencyState | None = None) -> Iterator[None]:
        """Run the work; if it raises, undo its writes and give the claim up (delete it, or
        with ``restore`` put it back in that state) so that a retry can act."""
        try:
            yield
        except BaseException:
            self.session.rollback()
            self._release(restore)
            raise

    def _release(self, restore: IdempotencyState | None) -> None:
        if self._claim_id is None:
            return
        try:
            if restore is None:
                statement: Any = delete(IdempotencyRecord).where(
                    col(IdempotencyRecord.id) == self._claim_id
                )
            else:
                statement = (
                    update(IdempotencyRecord)
                    .where(col(IdempotencyRecord.id) == self._claim_id)
                    .values(state=restore, attempt=IdempotencyRecord.attempt + 1, updated_at=_now())
                )
            self.session.exec(statement)
            self.session.commit()
        except Exception:  # the original error matters more; the lease frees the key later
            log.exception("could not release the claim on Idempotency-Key %r", self.key)
            self.session.rollback()
        self._claim_id = None
