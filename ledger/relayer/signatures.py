"""Department signatures at send time: the nonce and key the contract will check.

The chain state this needs (latest block time, each department's nonce per contract, each
department's key) is read once per tick into a :class:`ChainView`, not once per operation:
within a tick only the relayer's own transactions change it, and those are counted from the
outbox (they are ``submitted``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import func
from sqlmodel import Session, select

from ledger.chain.clients.base import SignedActionsClient
from ledger.chain.deploy import Ledger
from ledger.errors import LedgerError
from ledger.relayer.models import Operation, OperationStatus
from ledger.relayer.outbox import key_claims

#: A custodial signature this close to its deadline is renewed before sending (seconds).
_DEADLINE_MARGIN = 300
_CUSTODIAL_TTL = 24 * 3600

#: (department id, key address) → that custodial key, current or rotated away, or None when
#: the service does not hold it (the department signs for itself).
KeyProvider = Callable[[int, str], LocalAccount | None]


class StaleSignatureError(LedgerError):
    """A client-supplied signature carries a nonce the contract will not accept."""

    code = "stale-signature-nonce"


class ChainView:
    """The chain as of the start of one tick: latest block, fees, nonces and keys, each read
    at most once."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        chain = ledger.chain
        latest = chain.call(lambda: chain.w3.eth.get_block("latest"))
        self.block_time = int(latest["timestamp"])
        self._base_fee = int(latest.get("baseFeePerGas") or 0)
        self._fees: dict[str, int] | None = None
        self._nonces: dict[tuple[str, int], int] = {}
        self._signers: dict[int, str] = {}

    def fees(self) -> dict[str, int]:
        """Fee fields for every transaction of the tick."""
        if self._fees is None:
            if self._base_fee:
                tip = 1_000_000_000
                self._fees = {"maxFeePerGas": self._base_fee * 2 + tip, "maxPriorityFeePerGas": tip}
            else:
                chain = self.ledger.chain
                self._fees = {"gasPrice": int(chain.call(lambda: chain.w3.eth.gas_price))}
        return self._fees

    def department_nonce(self, client: SignedActionsClient, department_id: int) -> int:
        key = (client.artifact_name, department_id)
        if key not in self._nonces:
            self._nonces[key] = client.department_nonce(department_id)
        return self._nonces[key]

    def signer(self, department_id: int) -> str:
        if department_id not in self._signers:
            self._signers[department_id] = self.ledger.departments.department(department_id).signer
        return self._signers[department_id]


class QueueView:
    """The outbox as signatures see it during one tick: each department's signature nonces in
    flight and its queued key claims, read once and kept current as the tick signs and fails
    operations (one query per department per tick, not two per operation)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._highest: dict[tuple[str, int], int | None] = {}
        self._claims: dict[int, list[tuple[int, str]]] = {}

    def highest_in_flight(self, contract: str, department_id: int) -> int | None:
        """The highest signature nonce among the department's sent, unconfirmed actions on
        ``contract``, or None."""
        key = (contract, department_id)
        if key not in self._highest:
            self._highest[key] = self.session.exec(
                select(func.max(Operation.signature_nonce)).where(
                    Operation.status == OperationStatus.SUBMITTED,
                    Operation.contract == contract,
                    Operation.department_id == department_id,
                )
            ).one()
        return self._highest[key]

    def signer_before(self, department_id: int, seq: int | None) -> str | None:
        """The key claimed by the department's last enrolment or rotation queued ahead of
        ``seq``, or None (the key on chain)."""
        if department_id not in self._claims:
            self._claims[department_id] = key_claims(self.session, department_id)
        ahead = [key for at, key in self._claims[department_id] if seq is None or at < seq]
        return ahead[-1] if ahead else None

    def sent(self, op: Operation) -> None:
        """``op`` is now in flight."""
        if op.department_id is None or op.signature_nonce is None:
            return
        key = (op.contract, op.department_id)
        if key in self._highest:
            self._highest[key] = max(self._highest[key] or 0, op.signature_nonce)

    def failed(self, op: Operation) -> None:
        """``op`` failed before sending: if it claimed a key, that claim is gone."""
        claims = self._claims.get(op.department_id or 0)
        if claims is not None:
            self._claims[op.department_id or 0] = [c for c in claims if c[0] != op.seq]


def prepare_signature(
    op: Operation,
    client: SignedActionsClient,
    view: ChainView,
    queue: QueueView,
    keys: KeyProvider,
) -> None:
    """Make sure a by-signature call carries the department nonce the contract will expect,
    signed by the key in force at its turn; re-sign a custodial one that does not.

    Raises :class:`StaleSignatureError` for a client's
    signature whose nonce no longer fits.
    """
    assert op.department_id is not None and op.action_type is not None
    highest = queue.highest_in_flight(op.contract, op.department_id)
    # The contract's nonce counts what is mined; actions sent but not yet mined hold the
    # nonces just above it. Either view alone is wrong on some chain (auto-mining or not).
    on_chain = view.department_nonce(client, op.department_id)
    expected = on_chain if highest is None or highest < on_chain else highest + 1
    args = op.call_args()
    department_id, _nonce, deadline, _signature = args[-1]
    now = view.block_time
    signer: str | None = None
    if op.custodial:
        signer = queue.signer_before(op.department_id, op.seq)
        signer = signer if signer is not None else view.signer(op.department_id)
    signed_by_signer = signer is None or signer.lower() == (op.signer or "").lower()
    if op.signature_nonce == expected and deadline > now + _DEADLINE_MARGIN and signed_by_signer:
        return
    key = keys(op.department_id, signer) if signer is not None else None
    if key is None and op.signature_nonce == expected:
        # The department's own signature (or a key the service no longer holds): the
        # contract decides if it expired or is by the wrong key.
        return
    if key is None:
        raise StaleSignatureError(
            f"the signature carries nonce {op.signature_nonce}, the contract expects "
            f"{expected}: sign the action again with the current nonce"
        )
    if deadline <= now + _DEADLINE_MARGIN:
        deadline = now + _CUSTODIAL_TTL
    fields = json.loads(op.action_fields or "{}")
    action = client.typed_action(
        op.action_type,
        _typed(fields),
        department_id=department_id,
        nonce=expected,
        deadline=deadline,
    )
    args[-1] = [department_id, expected, deadline, "0x" + action.sign(key).hex()]
    op.args = json.dumps(args)
    op.signature_nonce = expected
    op.signer = key.address


def _typed(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON typed-data fields → eth-account values (0x-hex → bytes)."""

    def convert(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("0x"):
            return bytes.fromhex(value[2:])
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return {k: convert(v) for k, v in fields.items()}
