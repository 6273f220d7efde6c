"""Department actions as outbox rows: signed by the custodial key, or by the department itself.

Both the HTTP service and the CLI turn a department's intent into an outbox row here. Either
the service signs with the department's custodial key (nonce chosen past everything queued),
or the caller brings the department's own EIP-712 signature, which is checked before it is
accepted, so a bad signature is refused at once instead of failing later.

Either way the signature must be by the key the department will have when the action executes:
the outbox is mined in order, so that is the new key of a rotation queued ahead of the action,
or else the key on chain (:func:`~ledger.relayer.next_signer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ledger.chain.clients.base import SignedActionsClient
from ledger.chain.deploy import Ledger
from ledger.chain.types import Authorization, DepartmentStatus
from ledger.errors import (
    DepartmentInactiveError,
    ForbiddenError,
    InvalidInputError,
    InvalidSignatureError,
)
from ledger.relayer.models import Operation
from ledger.relayer.outbox import (
    enqueue,
    next_department_status,
    next_signature_nonce,
    next_signer,
)
from ledger.relayer.signatures import KeyProvider

#: How long a custodial signature stays valid; the relayer re-signs if it ever gets close.
CUSTODIAL_SIGNATURE_TTL = 24 * 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartmentAction:
    """One action of a department as its contract takes it by signature: the EIP-712 typed
    data the department signs (``action_type`` over ``fields``), the ``…BySig`` ``function``
    that carries it, its arguments once the authorization is known, and the outbox ``kind``."""

    client: SignedActionsClient
    action_type: str
    fields: dict[str, Any]
    function: str
    call_args: Callable[[Authorization], list[Any]]
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSignature:
    """A department's own signature over an action, as sent by the department."""

    nonce: int
    deadline: int
    signature: bytes


def submit_department_action(
    session: Session,
    ledger: Ledger,
    keys: KeyProvider,
    department_id: int,
    action: DepartmentAction,
    *,
    result: dict[str, Any] | None = None,
    signature: ClientSignature | None = None,
) -> Operation:
    """Queue ``action`` (a ``…BySig`` call) for ``department_id``; not committed.

    Refused at once with :class:`DepartmentInactiveError` when the department will be suspended
    at the action's turn: the contract would refuse it anyway, after the caller was told 202.
    """
    if (
        next_department_status(session, ledger.departments, department_id)
        == DepartmentStatus.SUSPENDED
    ):
        raise DepartmentInactiveError({"departmentId": department_id})
    signer = next_signer(session, ledger.departments, department_id)
    if signature is None:
        key = keys(department_id, signer)
        if key is None:
            raise ForbiddenError(
                f"department {department_id} holds its own key: send its EIP-712 signature"
            )
        nonce = next_signature_nonce(session, action.client, department_id)
        deadline = ledger.chain.block_time() + CUSTODIAL_SIGNATURE_TTL
        typed = action.client.typed_action(
            action.action_type,
            action.fields,
            department_id=department_id,
            nonce=nonce,
            deadline=deadline,
        )
        auth = Authorization(
            department_id=department_id, nonce=nonce, deadline=deadline, signature=typed.sign(key)
        )
        custodial = True
    else:
        if len(signature.signature) != 65:
            raise InvalidInputError(f"a signature is 65 bytes, got {len(signature.signature)}")
        typed = action.client.typed_action(
            action.action_type,
            action.fields,
            department_id=department_id,
            nonce=signature.nonce,
            deadline=signature.deadline,
        )
        try:
            recovered = typed.recover(signature.signature)
        except Exception as exc:  # eth-keys raises several kinds for garbage signatures
            raise InvalidSignatureError(
                {}, message=f"the signature does not recover to any key: {exc}"
            ) from exc
        if recovered.lower() != signer.lower():
            raise InvalidSignatureError(
                {"recovered": recovered, "expected": signer},
                message=f"the signature is by {recovered}, not department {department_id}'s key "
                f"{signer} (check chain id {ledger.chain.chain_id}, contract "
                f"{action.client.address}, nonce and fields; a key rotation queued ahead of this "
                "action counts)",
            )
        auth = Authorization(
            department_id=department_id,
            nonce=signature.nonce,
            deadline=signature.deadline,
            signature=signature.signature,
        )
        custodial = False
    return enqueue(
        session,
        kind=action.kind,
        contract=action.client.artifact_name,
        function=action.function,
        args=action.call_args(auth),
        department_id=department_id,
        action_type=action.action_type,
        action_fields=action.fields,
        signature_nonce=auth.nonce,
        custodial=custodial,
        signer=signer,
        result=result,
    )
