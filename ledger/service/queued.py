"""What a write use case returns: the operation queued for the chain and what it will make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ledger.chain.clients.base import SignedActionsClient
from ledger.chain.types import Authorization
from ledger.relayer.actions import ClientSignature, submit_department_action
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
    client: SignedActionsClient,
    *,
    action_type: str,
    fields: dict[str, Any],
    function: str,
    call_args: Callable[[Authorization], list[Any]],
    kind: str,
    resource: dict[str, Any],
    signature: ClientSignature | None,
) -> Queued:
    """Queue a department's signed action (custodial or its own signature) whose operation
    reports ``resource``."""
    op = submit_department_action(
        session,
        runtime.ledger,
        runtime.department_key,
        department_id=department_id,
        client=client,
        action_type=action_type,
        fields=fields,
        function=function,
        call_args=call_args,
        kind=kind,
        result=resource,
        signature=signature,
    )
    return Queued(op, resource)
