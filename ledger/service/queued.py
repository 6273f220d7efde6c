"""What a write use case returns: the operation queued for the chain and what it will make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ledger.relayer.actions import ClientSignature, DepartmentAction, submit_department_action
from ledger.relayer.models import Operation
from ledger.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Queued:
    """A write queued for the chain (not yet committed: the caller commits the session): the
    operation to follow, and the resource it will create or change."""

    operation: Operation
    resource: dict[str, Any]


def department_action(
    session: Session,
    runtime: Runtime,
    department_id: int,
    action: DepartmentAction,
    *,
    resource: dict[str, Any],
    signature: ClientSignature | None,
) -> Queued:
    """Queue a department's signed action (custodial or its own signature) whose operation
    reports ``resource``."""
    op = submit_department_action(
        session,
        runtime.ledger,
        runtime.department_key,
        department_id,
        action,
        result=resource,
        signature=signature,
    )
    return Queued(op, resource)
