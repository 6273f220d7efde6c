"""Bearer tokens: issued once, stored as SHA-256, each bound to one principal."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from api.models import ApiToken, PrincipalKind
from ledger.errors import AuthenticationError, ForbiddenError, ResourceNotFoundError

TOKEN_PREFIX = "plk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: governance, one department, or an auditor (read and verify only)."""

    kind: PrincipalKind
    token_id: str
    department_id: int | None = None

    @property
    def key(self) -> str:
        """Stable identity for idempotency records."""
        return f"{self.kind}:{self.department_id or ''}:{self.token_id}"

    def require(self, *kinds: PrincipalKind) -> None:
        if self.kind not in kinds:
            allowed = " or ".join(k.value for k in kinds)
            raise ForbiddenError(f"this needs a {allowed} token; this token is {self.kind.value}")

    def acting_department(self) -> int:
        self.require(PrincipalKind.DEPARTMENT)
        assert self.department_id is not None
        return self.department_id


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


def authenticate(session: Session, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer …`` header."""
    if not authorization:
        raise AuthenticationError("missing Authorization header: send 'Bearer <token>'")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    token = session.exec(
        select(ApiToken).where(ApiToken.token_sha256 == _digest(secret.strip()))
    ).first()
    if token is None or token.revoked_at is not None:
        raise AuthenticationError("the token is unknown or revoked")
    return Principal(PrincipalKind(token.kind), token.id, token.department_id)


def revoke_token(session: Session, token_id: str) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise ResourceNotFoundError(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.add(token)
    return token
