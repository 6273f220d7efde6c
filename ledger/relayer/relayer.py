"""The relayer: turns outbox rows into mined transactions, and never loses one.

Guarantees, and how:
* **Nothing acknowledged is lost.** A write is acknowledged once its row is committed (by the
  caller, in the same transaction as the request record). Each transaction is signed and its
  hash and raw bytes are committed *before* it is broadcast, so after a crash the relayer
  knows every transaction it may have sent and re-broadcasts any the chain does not know.
* **Nonces are managed locally** for the relayer's account (no ``eth_getTransactionCount`` per
  send); they are re-synchronised from the chain when it disagrees (node restarted and lost
  blocks, another process used the key).
* **Department signatures stay valid.** Each by-signature action carries a per-department,
  per-contract nonce. Before sending, the relayer checks it against the contract's nonce plus
  the department's actions still in flight; a custodial signature that no longer fits (an
  earlier action failed and freed its nonce) is re-signed, a client's is failed with
  ``stale-signature-nonce`` so the client can sign again.
* **Rotations take effect in queue order.** A custodial action is signed (and re-signed) by
  the key the department will have when it executes: the key of the last rotation queued
  ahead of it, or the key on chain. A client's signature by a key rotated away ahead of it
  fails with the contract's ``SignatureWrongSigner``.
* **Reverts are named.** A call that would revert is failed before sending, with the decoded
  contract error (code and message); one that reverts once mined is failed the same way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ledger.chain.abi_json import from_json, function_inputs
from ledger.chain.clients.base import ContractClient, SignedActionsClient
from ledger.chain.deploy import Ledger
from ledger.errors import ChainUnavailableError, ContractRevertError, LedgerError
from ledger.relayer.models import Operation, OperationStatus
from ledger.relayer.outbox import next_signer

log = logging.getLogger(__name__)

#: A custodial signature this close to its deadline is renewed before sending (seconds).
_DEADLINE_MARGIN = 300
_CUSTODIAL_TTL = 24 * 3600

#: (department id, key address) → that custodial key, current or rotated away, or None when
#: the service does not hold it (the department signs for itself).
KeyProvider = Callable[[int, str], LocalAccount | None]


@dataclass(frozen=True, slots=True)
class TickReport:
    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    resent: int = 0


class Relayer:
    """Submits pending operations from one funded account and tracks them to confirmation."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        engine: Engine,
        account: LocalAccount,
        keys: KeyProvider,
        confirmations: int = 1,
        batch: int = 64,
    ) -> None:
        self.ledger = ledger
        self.chain = ledger.chain
        self.engine = engine
        self.account = account
        self.keys = keys
        self.confirmations = confirmations
        self.batch = batch
        self._next_nonce: int | None = None
        self._clients: dict[str, ContractClient] = {
            "DepartmentRegistry": ledger.departments,
            "DatasetRegistry": ledger.datasets,
            "AccessRegistry": ledger.access,
            "AnchorRegistry": ledger.anchors,
        }

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, poll_interval: float = 0.2) -> None:
        """Tick until ``stop`` is set; chain outages are logged and waited out."""
        while not stop.is_set():
            try:
                report = self.tick()
                idle = report == TickReport()
            except ChainUnavailableError as exc:
                log.warning("relayer: chain unavailable, retrying: %s", exc)
                idle = True
            except Exception:  # never let one bad row kill the loop
                log.exception("relayer: unexpected error")
                idle = True
            if idle:
                stop.wait(poll_interval)

    def tick(self) -> TickReport:
        """Send what is pending, then advance what was sent. Returns what happened."""
        sent, failed_early = self._submit_pending()
        confirmed, failed_late, resent = self._track_submitted()
        return TickReport(
            sent=sent, confirmed=confirmed, failed=failed_early + failed_late, resent=resent
        )

    # --- sending ----------------------------------------------------------------------------

    def _submit_pending(self) -> tuple[int, int]:
        sent = failed = 0
        with Session(self.engine) as session:
            pending = session.exec(
                select(Operation)
                .where(Operation.status == OperationStatus.PENDING)
                .order_by(col(Operation.seq))
                .limit(self.batch)
            ).all()
            for op in pending:
                try:
                    self._prepare_signature(session, op)
                    function = self._function(op)
                    gas = self._estimate(function)
                except ChainUnavailableError:
                    raise  # try again next tick; the row stays pending
                except LedgerError as exc:
                    if self._sent_ahead_unmined(session, op):
                        # The call ran against the latest block, but a transaction ahead of it
                        # (its department's previous signature nonce, an enrolment, a key
                        # rotation) is sent and not mined yet, e.g. lost in a crash and about to
                        # be sent again. Judge the call once that state is in place; stop here
                        # so nothing behind it overtakes it.
                        log.info("relayer: %s waits for the transactions ahead: %s", op.id, exc)
                        break
                    self._fail(op, exc)  # a named refusal: the call can never succeed as is
                except Exception as exc:  # malformed row: fail it rather than retry forever
                    self._fail_foreign(op, exc)
                if op.status == OperationStatus.FAILED:
                    failed += 1
                    session.add(op)
                    session.commit()
                    continue
                self._sign_and_record(session, op, function, gas)
                self._broadcast(op)
                sent += 1
        return sent, failed

    def _sent_ahead_unmined(self, session: Session, op: Operation) -> bool:
        """Whether a transaction queued ahead of ``op`` is sent but has no receipt yet."""
        ahead = session.exec(
            select(Operation).where(
                Operation.status == OperationStatus.SUBMITTED, col(Operation.seq) < op.seq
            )
        ).all()
        return any(self._receipt(sent) is None for sent in ahead)

    def dry_run(self, op: Operation) -> None:
        """Run ``op``'s call against the latest state without sending it.

        Raises the contract's decoded error if it would revert now, so a write can be refused
        at once. Only meaningful when nothing queued ahead of ``op`` changes the outcome.
        """
        self._estimate(self._function(op))

    def _estimate(self, function: Any) -> int:
        # Runs the call: a revert surfaces here, decoded, before anything is signed or sent.
        return int(self.chain.call(lambda: function.estimate_gas({"from": self.account.address})))

    def _prepare_signature(self, session: Session, op: Operation) -> None:
        """Make sure a by-signature call carries the department nonce the contract will expect."""
        if op.action_type is None or op.department_id is None:
            return
        client = self._clients[op.contract]
        assert isinstance(client, SignedActionsClient)
        in_flight = session.exec(
            select(Operation.signature_nonce).where(
                Operation.status == OperationStatus.SUBMITTED,
                Operation.contract == op.contract,
                Operation.department_id == op.department_id,
                col(Operation.signature_nonce).is_not(None),
            )
        ).all()
        # The contract's nonce counts what is mined; actions sent but not yet mined hold the
        # nonces just above it. Either view alone is wrong on some chain (auto-mining or not).
        on_chain = client.department_nonce(op.department_id)
        expected = max([on_chain, *(n + 1 for n in in_flight if n is not None and n >= on_chain)])
        args = op.call_args()
        department_id, _nonce, deadline, _signature = args[-1]
        now = self.chain.block_time()
        signer = (
            next_signer(session, self.ledger.departments, op.department_id, before_seq=op.seq)
            if op.custodial
            else None
        )
        signed_by_signer = signer is None or signer.lower() == (op.signer or "").lower()
        if (
            op.signature_nonce == expected
            and deadline > now + _DEADLINE_MARGIN
            and signed_by_signer
        ):
            return
        key = self.keys(op.department_id, signer) if signer is not None else None
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

    def _function(self, op: Operation) -> Any:
        client = self._clients[op.contract]
        inputs = function_inputs(op.contract, op.function)
        return client.contract.functions[op.function](*from_json(op.call_args(), inputs))

    def _sign_and_record(self, session: Session, op: Operation, function: Any, gas: int) -> None:
        if self._next_nonce is None:
            self._next_nonce = self.chain.w3.eth.get_transaction_count(
                self.account.address, "pending"
            )
        fees = self._fees()
        tx = function.build_transaction(
            {
                "from": self.account.address,
                "chainId": self.chain.chain_id,
                "nonce": self._next_nonce,
                # Headroom over the estimate: state can change between estimate and inclusion.
                "gas": gas + gas // 5 + 10_000,
                **fees,
            }
        )
        signed = self.account.sign_transaction(tx)
        op.sender = self.account.address
        op.tx_nonce = self._next_nonce
        op.tx_hash = HexBytes(signed.hash).to_0x_hex()
        op.raw_tx = HexBytes(signed.raw_transaction).to_0x_hex()
        op.status = OperationStatus.SUBMITTED
        op.attempts += 1
        op.updated_at = datetime.now(UTC)
        session.add(op)
        session.commit()  # recorded before it is sent: a crash after this line loses nothing
        session.refresh(op)
        self._next_nonce += 1

    def _fees(self) -> dict[str, int]:
        latest = self.chain.w3.eth.get_block("latest")
        base = int(latest.get("baseFeePerGas") or 0)
        tip = 1_000_000_000 if base else 0
        if not base:
            return {"gasPrice": int(self.chain.w3.eth.gas_price)}
        return {"maxFeePerGas": base * 2 + tip, "maxPriorityFeePerGas": tip}

    def _broadcast(self, op: Operation) -> None:
        assert op.raw_tx is not None
        try:
            self.chain.w3.eth.send_raw_transaction(HexBytes(op.raw_tx))
        except Exception as exc:  # the tracker re-sends; log why this attempt did not take
            log.info("relayer: broadcast of %s deferred: %s", op.id, exc)

    # --- tracking ---------------------------------------------------------------------------

    def _track_submitted(self) -> tuple[int, int, int]:
        confirmed = failed = resent = 0
        with Session(self.engine) as session:
            submitted = session.exec(
                select(Operation)
                .where(Operation.status == OperationStatus.SUBMITTED)
                .order_by(col(Operation.tx_nonce))
            ).all()
            if not submitted:
                return 0, 0, 0
            head = self.chain.w3.eth.block_number
            lost: list[Operation] = []
            for op in submitted:
                receipt = self._receipt(op)
                if receipt is None:
                    op.block_number = op.block_hash = None
                    lost.append(op)
                    continue
                if receipt["status"] != 1:
                    error = self.chain._replay_failure(
                        {
                            "from": op.sender,
                            "to": self._clients[op.contract].address,
                            "data": self._function(op)._encode_transaction_data(),
                        },
                        receipt["blockNumber"],
                        op.tx_hash or "",
                    )
                    self._fail(op, error)
                    op.block_number = receipt["blockNumber"]
                    op.block_hash = HexBytes(receipt["blockHash"]).to_0x_hex()
                    failed += 1
                    continue
                op.block_number = receipt["blockNumber"]
                op.block_hash = HexBytes(receipt["blockHash"]).to_0x_hex()
                op.gas_used = receipt["gasUsed"]
                if head - op.block_number + 1 >= self.confirmations and self._canonical(op):
                    op.status = OperationStatus.CONFIRMED
                    op.result = json.dumps({**op.result_data(), **self._outcome(op, receipt)})
                    confirmed += 1
                op.updated_at = datetime.now(UTC)
            resent = self._recover(lost)
            for op in submitted:
                session.add(op)
            session.commit()
        return confirmed, failed, resent

    def _receipt(self, op: Operation) -> Any:
        try:
            return self.chain.w3.eth.get_transaction_receipt(HexBytes(op.tx_hash or ""))
        except Exception as exc:
            if "not found" in str(exc).lower() or type(exc).__name__ == "TransactionNotFound":
                return None
            raise ChainUnavailableError(f"cannot read receipt of {op.tx_hash}: {exc}") from exc

    def _canonical(self, op: Operation) -> bool:
        block = self.chain.w3.eth.get_block(op.block_number or 0)
        return HexBytes(block["hash"]).to_0x_hex() == op.block_hash

    def _recover(self, lost: list[Operation]) -> int:
        """Transactions the chain does not know: re-broadcast them, or re-queue them when
        their nonce was taken by something else."""
        if not lost:
            return 0
        chain_nonce = self.chain.w3.eth.get_transaction_count(self.account.address, "latest")
        resent = 0
        for op in sorted(lost, key=lambda o: o.tx_nonce or 0):
            if (op.tx_nonce or 0) < chain_nonce:
                if self._receipt(op) is not None:
                    # Mined between the receipt lookup and the nonce read: not lost at all
                    # (re-sending it would fail, e.g. DatasetAlreadyExists). Tracked next tick.
                    continue
                # The nonce was consumed by another transaction: send this one anew.
                op.status = OperationStatus.PENDING
                op.tx_hash = op.raw_tx = None
                op.tx_nonce = None
                continue
            self._broadcast(op)
            resent += 1
        # A node that lost blocks also lost our nonces: resume from what it knows.
        pending_nonce = self.chain.w3.eth.get_transaction_count(self.account.address, "pending")
        if self._next_nonce is None or pending_nonce > self._next_nonce:
            self._next_nonce = pending_nonce
        return resent

    def _outcome(self, op: Operation, receipt: Any) -> dict[str, Any]:
        """What the confirmed call produced, read from its events (e.g. a version number)."""
        events = self._clients[op.contract].decode_events(receipt["logs"])
        for event in events:
            if event.name == "VersionAdded":
                return {"version": event.args["version"], "log_index": event.log_index}
        return {"log_index": events[0].log_index} if events else {}

    # --- failure ----------------------------------------------------------------------------

    @staticmethod
    def _fail(op: Operation, error: LedgerError) -> None:
        op.status = OperationStatus.FAILED
        op.error_code = (
            error.code if not isinstance(error, ContractRevertError) else error.error_name
        )
        op.error_message = error.message
        op.updated_at = datetime.now(UTC)

    @staticmethod
    def _fail_foreign(op: Operation, exc: Exception) -> None:
        op.status = OperationStatus.FAILED
        op.error_code = "relayer-error"
        op.error_message = f"{type(exc).__name__}: {exc}"
        op.updated_at = datetime.now(UTC)


class StaleSignatureError(LedgerError):
    """A client-supplied signature carries a nonce the contract will not accept."""

    code = "stale-signature-nonce"


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
