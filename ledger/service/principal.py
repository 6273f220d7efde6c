"""Who acts: governance, one department, or an auditor (read and verify only)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ledger.errors import ForbiddenError


class PrincipalKind(enum.StrEnum):
    GOVERNANCE = "governance"
    DEPARTMENT = "department"
    AUDITOR = "auditor"


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
