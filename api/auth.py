"""Bearer tokens: issued once, stored as SHA-256, each bound to one principal."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import event
from sqlmodel import Session, select

from api.models import ApiToken
from ledger.errors import AuthenticationError, ResourceNotFoundError
from ledger.service.principal import Principal, PrincipalKind

TOKEN_PREFIX = "plk_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(
    session: Session, kind: PrincipalKind, *, department_id: int | None = None, label: str = ""
) -> tuple[str, str]:
    """Create a token; returns (public id, secret). Only the hash is stored; not committed."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = "tok_" + secrets.token_hex(8)
    session.add(
        ApiToken(
            id=token_id,
            token_sha256=_digest(secret),
            kind=kind,
            department_id=department_id,
            label=label,
        )
    )
    return token_id, secret


def token_digest(authorization: str | None) -> str:
    """The SHA-256 (hex) of the secret in an ``Authorization: Bearer …`` header."""
    if not authorization:
        raise AuthenticationError("missing Authorization header: send 'Bearer <token>'")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return _digest(secret.strip())


def principal_of(session: Session, digest: str) -> Principal:
    """The principal of the token whose secret hashes to ``digest``."""
    token = session.exec(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
    if token is None or token.revoked_at is not None:
        raise AuthenticationError("the token is unknown or revoked")
    return Principal(PrincipalKind(token.kind), token.id, token.department_id)


# Bumped after every commit that revoked a token in this process: cached principals older than
# the bump are stale. One counter for the process (not per app) because ``revoke_token`` only
# has a session; a revocation merely costs every cache one database lookup per token.
_revocation_epoch = 0
_epoch_lock = threading.Lock()


def revocation_epoch() -> int:
    """How many token revocations this process has committed."""
    return _revocation_epoch


def _revocation_committed(_session: Session) -> None:
    global _revocation_epoch
    with _epoch_lock:
        _revocation_epoch += 1


class PrincipalCache:
    """Principals of recently authenticated tokens, by secret digest, for ``ttl`` seconds.

    Why: every request authenticates, and a database lookup (on a worker thread) was about a
    sixth of a verification by hash. Why it is safe: only successful lookups are cached; a
    revocation committed in this process makes every older entry stale at once (take
    :func:`revocation_epoch` *before* the lookup and store it with the result, so a lookup
    racing the revocation is stale too); a revocation by another replica on a shared database
    takes effect here within ``ttl``.
    """

    def __init__(
        self,
        *,
        ttl: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[Principal, float, int]] = {}

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        principal, expires, epoch = entry
        if epoch != revocation_epoch() or self._clock() >= expires:
            self._entries.pop(digest, None)
            return None
        return principal

    def put(self, digest: str, principal: Principal, epoch: int) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # a flood of distinct tokens: start over, stay bounded
        self._entries[digest] = (principal, self._clock() + self.ttl, epoch)


def revoke_token(session: Session, token_id: str) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise ResourceNotFoundError(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.add(token)
        event.listen(session, "after_commit", _revocation_committed, once=True)
    return token
