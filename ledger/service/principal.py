"""Who acts: governance, one department, an auditor (read and verify only), or an anonymous
reader of what the chain shows anyway."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ledger.errors import AuthenticationError, ForbiddenError


class PrincipalKind(enum.StrEnum):
    GOVERNANCE = "governance"
    DEPARTMENT = "department"
    AUDITOR = "auditor"
    #: No token: reads what the chain records and nothing that is need-to-know
    #: (:mod:`ledger.service.visibility`). Only where the service serves the chain publicly.
    PUBLIC = "public"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: governance, one department, an auditor (read and verify only), or
    nobody in particular (:data:`ANONYMOUS`)."""

    kind: PrincipalKind
    token_id: str
    department_id: int | None = None

    @property
    def key(self) -> str:
        """Stable identity for idempotency records."""
        return f"{self.kind}:{self.department_id or ''}:{self.token_id}"

    def require(self, *kinds: PrincipalKind) -> None:
        """Refuse unless the caller is of one of ``kinds``: ``AuthenticationError`` for a
        caller without a token (a token would help), ``ForbiddenError`` for the wrong one."""
        if self.kind not in kinds:
            allowed = " or ".join(k.value for k in kinds)
            if self.kind is PrincipalKind.PUBLIC:
                raise AuthenticationError(f"this needs a {allowed} token; none was sent")
            raise ForbiddenError(f"this needs a {allowed} token; this token is {self.kind.value}")

    def acting_department(self) -> int:
        self.require(PrincipalKind.DEPARTMENT)
        assert self.department_id is not None
        return self.department_id


#: The reader who sent no token, where reads are public (``PROVLEDGER_PUBLIC_READS``).
ANONYMOUS = Principal(PrincipalKind.PUBLIC, token_id="")
