"""The relayer: turns outbox rows into mined transactions, and never loses one.

Guarantees, and how:
* **Nothing acknowledged is lost.** A write is acknowledged once its row is committed (by the
  caller, in the same transaction as the request record). Each transaction is signed and its
  hash and raw bytes are committed *before* it is broadcast, so after a crash the relayer
  knows every transaction it may have sent and re-broadcasts any the chain does not know.
* **Nonces are managed locally** for the relayer's account (no ``eth_getTransactionCount`` per
  send), so many transactions are in flight at once; they are re-synchronised from the chain
  when it disagrees (node restarted and lost blocks, another process used the key).
* **Department signatures stay valid.** Each by-signature action carries a per-department,
  per-contract nonce. Before sending, the relayer checks it against the contract's nonce plus
  the department's actions still in flight; a custodial signature that no longer fits (an
  earlier action failed and freed its nonce) is re-signed, a client's is failed with
  ``stale-signature-nonce`` so the client can sign again.
* **Rotations take effect in queue order.** A custodial action is signed (and re-signed) by
  the key the department will have when it executes: the key of the last rotation queued
  ahead of it, or the key on chain. A client's signature by a key rotated away ahead of it
  fails with the contract's ``SignatureWrongSigner``.
* **Confirmed means K deep, and watched until final.** A settled operation (confirmed, or
  failed by its receipt) whose block is above the node's finalized block is checked again
  whenever the head changes; if its block left the canonical chain it goes back to
  ``submitted`` (``reorged`` counted, an ``OperationEvent`` recorded) and its stored raw
  transaction is sent again, to be confirmed again or failed with the contract's reason.
* **No nonce gap outlives a recovery.** When the node does not know transactions the relayer
  sent, every nonce from the node's count up to the highest the relayer holds is accounted
  for: re-sent from the stored transaction, or, where no operation holds it any more (its
  transaction reverted and was reorged away, the operation re-signed since), filled with an
  empty transfer to itself, so nothing waits behind it in the node's queue.
* **Reverts are named.** A revert is found in the receipt (status 0) and replayed to decode
  the contract's error (code and message); the operation fails with it, and the operations
  behind it go on. An action that reverted only because one ahead of it failed after it was
  signed (its nonce freed, a rotation undone) is queued again and re-prepared, as is one whose
  revert cannot be reproduced (out of gas, or state of its own block); at most
  ``_MAX_ATTEMPTS`` sends in all.

Throughput: nothing is asked of the node per transaction before sending. Gas limits come from
per-function bounds (:mod:`ledger.relayer.gas`), fees and the state signatures depend on are
read once per tick (:class:`~ledger.relayer.signatures.ChainView`), one database commit records
a whole tick's transactions, and over JSON-RPC the raw sends, receipts and block hashes go in
batches (:mod:`ledger.relayer.transport`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ledger.chain.abi_json import calldata, from_json, function_inputs
from ledger.chain.clients.base import ContractClient, SignedActionsClient
from ledger.chain.deploy import Ledger
from ledger.chain.head import Finality, Head
from ledger.chain.txsign import CallSigner
from ledger.errors import (
    ChainUnavailableError,
    LedgerError,
    TransactionFailedError,
)
from ledger.relayer.gas import TX_GAS_CAP, gas_limit
from ledger.relayer.models import Operation, OperationEvent, OperationStatus
from ledger.relayer.settle import fail, fail_foreign, fixable, outcome
from ledger.relayer.signatures import (
    ChainView,
    KeyProvider,
    QueueView,
    StaleSignatureError,
    prepare_signature,
)
from ledger.relayer.transport import Transport
from ledger.workers import run_until_stopped

__all__ = ["KeyProvider", "Relayer", "RelayerHealth", "StaleSignatureError", "TickReport"]

log = logging.getLogger(__name__)

#: Sends of one operation at most, counting re-sends after a fixable revert.
_MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class TickReport:
    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    resent: int = 0
    #: Reverted for a reason the next attempt can fix; queued again.
    retried: int = 0
    #: Settled operations whose transaction left the canonical chain; sent again.
    reorged: int = 0
    #: Nonces of the relayer's account filled with an empty transaction.
    gaps_filled: int = 0


#: Operations settled from a receipt: watched until their block is final.
_SETTLED = (OperationStatus.CONFIRMED, OperationStatus.FAILED)

#: Gas of the empty transfer that fills a nonce gap.
_FILLER_GAS = 21_000


@dataclass(frozen=True, slots=True)
class RelayerHealth:
    """What the relayer last found, for readiness and operators (:meth:`Relayer.health`); what
    is in flight is the outbox's to say (:mod:`ledger.readiness`)."""

    #: The node's count of the account's mined transactions, and the next nonce the relayer
    #: will use: a difference with nothing in flight is a gap.
    chain_nonce: int | None = None
    next_nonce: int | None = None
    #: Since the process started.
    reorged_total: int = 0
    gaps_filled_total: int = 0
    last_tick_at: float | None = None  # time.monotonic()
    last_error: str | None = None


class Relayer:
    """Submits pending operations from one funded account and tracks them to confirmation.

    ``batch`` operations at most are signed and sent per tick, ``max_in_flight`` at most are
    sent and not yet confirmed; over JSON-RPC, requests go in batches of ``rpc_batch``
    (1 sends them one by one). A tick waits up to ``receipt_wait`` seconds for the receipts of
    what it sent.
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        engine: Engine,
        account: LocalAccount,
        keys: KeyProvider,
        confirmations: int = 1,
        batch: int = 500,
        max_in_flight: int = 1000,
        rpc_batch: int = 100,
        receipt_wait: float = 0.25,
        finality_depth: int = 64,
    ) -> None:
        self.ledger = ledger
        self.chain = ledger.chain
        self.engine = engine
        self.account = account
        self.keys = keys
        self.confirmations = confirmations
        self.batch = batch
        self.max_in_flight = max_in_flight
        self.receipt_wait = receipt_wait
        self.rpc_batch = rpc_batch
        self.transport = Transport(ledger.chain, batch_size=rpc_batch)
        # Broadcasts overlap signing only over HTTP: an in-process chain is not thread-safe.
        self._sender = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="provledger-relayer-send")
            if ledger.chain.rpc_url is not None
            else None
        )
        self._signer = CallSigner(account)
        self.finality = Finality(ledger.chain, depth=finality_depth)
        # The head the settled operations were last checked against: checked again only when
        # it changes (a reorg changes the head's hash, even at the same height).
        self._watched_head: tuple[int, str] | None = None
        self._health = RelayerHealth()
        self._gaps_filled = self._reorged_in_tick = 0  # in this tick
        self._next_nonce: int | None = None
        # Hashes the node accepted in this tick's sends: not mined yet is not lost.
        self._just_sent: set[str] = set()
        self._clients: dict[str, ContractClient] = {
            "DepartmentRegistry": ledger.departments,
            "DatasetRegistry": ledger.datasets,
            "AccessRegistry": ledger.access,
            "AnchorRegistry": ledger.anchors,
        }
        if ledger.deployment.key_directory is not None:  # absent from older deployments
            self._clients["KeyDirectory"] = ledger.keys

    # --- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, poll_interval: float = 0.2) -> None:
        """Tick until ``stop`` is set; chain outages are logged and waited out."""
        run_until_stopped("relayer", self._tick_for_loop, stop, poll_interval)

    def _tick_for_loop(self) -> bool:
        try:
            busy = self.tick() != TickReport()
        except Exception as exc:
            self._health = replace(self._health, last_error=str(exc))
            raise
        return busy

    def health(self) -> RelayerHealth:
        return self._health

    def tick(self) -> TickReport:
        """Send what is pending, advance what was sent, re-check what settled above the
        finalized block. Returns what happened."""
        self._just_sent.clear()
        self._gaps_filled = self._reorged_in_tick = 0
        self._watch_settled()
        sent, failed_early = self._submit_pending()
        confirmed, failed_late, resent, retried = self._track_submitted()
        report = TickReport(
            sent=sent,
            confirmed=confirmed,
            failed=failed_early + failed_late,
            resent=resent,
            retried=retried,
            reorged=self._reorged_in_tick,
            gaps_filled=self._gaps_filled,
        )
        self._note_health(report)
        return report

    def _note_health(self, report: TickReport) -> None:
        self._health = replace(
            self._health,
            next_nonce=self._next_nonce,
            reorged_total=self._health.reorged_total + report.reorged,
            gaps_filled_total=self._health.gaps_filled_total + report.gaps_filled,
            last_tick_at=time.monotonic(),
            last_error=None,
        )

    # --- sending ----------------------------------------------------------------------------

    def _submit_pending(self) -> tuple[int, int]:
        handed: list[Future[None]] = []
        # Not expired on commit: each chunk is committed while the loop goes on with the rows.
        with Session(self.engine, expire_on_commit=False) as session:
            in_flight = session.exec(
                select(func.count())
                .select_from(Operation)
                .where(Operation.status == OperationStatus.SUBMITTED)
            ).one()
            room = min(self.batch, self.max_in_flight - in_flight)
            if room <= 0:
                return 0, 0
            pending = session.exec(
                select(Operation)
                .where(Operation.status == OperationStatus.PENDING)
                .order_by(col(Operation.seq))
                .limit(room)
            ).all()
            if not pending:
                return 0, 0
            view, queue = ChainView(self.ledger), QueueView(session)
            nonce = self._account_nonce()
            ready: list[tuple[str, str, str]] = []  # (op id, raw tx, tx hash), signed, not sent
            signed = failed = 0
            for op in pending:
                if self._waits_for_department(session, op):
                    break  # in queue order: nothing behind it overtakes it either
                try:
                    if op.action_type is not None and op.department_id is not None:
                        prepare_signature(op, self._signed_client(op), view, queue, self.keys)
                    args = op.call_args()
                    data = calldata(op.contract, op.function, args)
                    gas = self._gas(op, args)
                except ChainUnavailableError:
                    if not signed and not failed:
                        raise  # try again next tick; the rows stay pending
                    break  # record and send what is ready; the rest waits for the next tick
                except LedgerError as exc:
                    if self._sent_ahead_unmined(session, op):
                        # The call ran against the latest block, but a transaction ahead of it
                        # (its department's previous signature nonce, an enrolment, a key
                        # rotation) is sent and not mined yet, e.g. lost in a crash and about to
                        # be sent again. Judge the call once that state is in place; stop here
                        # so nothing behind it overtakes it.
                        log.info("relayer: %s waits for the transactions ahead: %s", op.id, exc)
                        break
                    fail(op, exc)  # a named refusal: the call can never succeed as is
                except Exception as exc:  # malformed row: fail it rather than retry forever
                    fail_foreign(op, exc)
                if op.status == OperationStatus.FAILED:
                    failed += 1
                    queue.failed(op)
                    session.add(op)
                    continue
                self._sign(op, data, gas, nonce, view)
                queue.sent(op)
                session.add(op)
                ready.append((op.id, op.raw_tx or "", op.tx_hash or ""))
                signed += 1
                nonce += 1
                if len(ready) >= self.rpc_batch:
                    handed.extend(self._hand_over(session, ready, nonce))
                    ready = []
            handed.extend(self._hand_over(session, ready, nonce))
        for sending in handed:
            sending.result()  # the tick ends with everything it signed broadcast (or refused)
        return signed, failed

    def _hand_over(
        self, session: Session, txs: list[tuple[str, str, str]], next_nonce: int
    ) -> list[Future[None]]:
        """Record signed transactions, then broadcast them: over HTTP in the background, so
        the next chunk is signed while the node takes this one (in order: one sender)."""
        session.commit()  # recorded before it is sent: a crash after this line loses nothing
        self._next_nonce = next_nonce
        if not txs:
            return []
        if self._sender is None:
            self._send(txs)
            return []
        return [self._sender.submit(self._send, txs)]

    def _send(self, txs: list[tuple[str, str, str]]) -> None:
        refused = self._broadcast([(op_id, raw) for op_id, raw, _ in txs])
        self._just_sent.update(h for (_, _, h), r in zip(txs, refused, strict=True) if not r)

    def _account_nonce(self) -> int:
        if self._next_nonce is None:
            address = self.account.address
            self._next_nonce = int(
                self.chain.call(lambda: self.chain.w3.eth.get_transaction_count(address, "pending"))
            )
        return self._next_nonce

    def _gas(self, op: Operation, args: list[Any]) -> int:
        """The operation's bound; estimated instead for a function without one, or when its
        last attempt reverted in a way its replay could not reproduce (``gas_used`` kept)."""
        bound = gas_limit(op.contract, op.function, args)
        if bound is not None and op.gas_used is None:
            return bound
        # Runs the call: a revert surfaces here, decoded, before anything is signed or sent.
        estimate = self._estimate(self._function(op))
        # Headroom over the estimate: state can change between estimate and inclusion.
        return min(estimate + estimate // 5 + 10_000, TX_GAS_CAP)

    def _waits_for_department(self, session: Session, op: Operation) -> bool:
        """Whether ``op`` is a key change (enrolment, rotation) of a department whose actions
        queued ahead of it are sent but not yet mined successfully.

        One of those may still revert and be queued again (its nonce freed by a failure ahead
        of it); sent again after the key change, it would run under the wrong key. So a key
        change waits for the department's actions ahead to settle; an action behind a key
        change needs no such wait: if the change fails, the action is re-signed or fails with
        the contract's reason, as it would have in queue order.
        """
        if not _claims_key(op):
            return False
        ahead = session.exec(
            select(Operation).where(
                Operation.status == OperationStatus.SUBMITTED,
                Operation.department_id == op.department_id,
                col(Operation.seq) < op.seq,
            )
        ).all()
        return any(r is None or r["status"] != 1 for r in self._receipts(list(ahead)))

    def _sent_ahead_unmined(self, session: Session, op: Operation) -> bool:
        """Whether a transaction queued ahead of ``op`` is sent but has no receipt yet."""
        ahead = session.exec(
            select(Operation).where(
                Operation.status == OperationStatus.SUBMITTED, col(Operation.seq) < op.seq
            )
        ).all()
        return any(r is None for r in self._receipts(list(ahead)))

    def dry_run(self, op: Operation) -> None:
        """Run ``op``'s call against the latest state without sending it.

        Raises the contract's decoded error if it would revert now, so a write can be refused
        at once. Only meaningful when nothing queued ahead of ``op`` changes the outcome.
        """
        self._estimate(self._function(op))

    def _estimate(self, function: Any) -> int:
        return int(self.chain.call(lambda: function.estimate_gas({"from": self.account.address})))

    def _signed_client(self, op: Operation) -> SignedActionsClient:
        client = self._clients[op.contract]
        assert isinstance(client, SignedActionsClient)
        return client

    def _function(self, op: Operation) -> Any:
        client = self._clients[op.contract]
        inputs = function_inputs(op.contract, op.function)
        return client.contract.functions[op.function](*from_json(op.call_args(), inputs))

    def _sign(self, op: Operation, data: bytes, gas: int, nonce: int, view: ChainView) -> None:
        signed = self._signer.sign(
            chain_id=self.chain.chain_id,
            nonce=nonce,
            to=self._clients[op.contract].address,
            data=data,
            gas=gas,
            fees=view.fees(),
        )
        op.sender = self.account.address
        op.tx_nonce = nonce
        op.tx_hash = "0x" + signed.hash.hex()
        op.raw_tx = "0x" + signed.raw.hex()
        op.gas_used = None
        op.status = OperationStatus.SUBMITTED
        op.attempts += 1
        op.updated_at = datetime.now(UTC)

    def _broadcast(self, txs: Sequence[tuple[str, str] | tuple[str, str, int]]) -> list[bool]:
        """Send (operation id, raw transaction[, nonce]) in nonce order; which the node refused."""
        refusals = self.transport.send_raw([sent[1] for sent in txs])
        for sent, refusal in zip(txs, refusals, strict=True):
            op_id = sent[0]
            if refusal is not None:  # the tracker re-sends; log why this attempt did not take
                log.info("relayer: broadcast of %s deferred: %s", op_id, refusal)
        return [refusal is not None for refusal in refusals]

    # --- watching what settled ---------------------------------------------------------------

    def _watch_settled(self) -> int:
        """Send back to ``submitted`` every settled operation above the finalized block whose
        block is no longer on the canonical chain. Checked when the head changed since the last
        check (a new block, or another branch); the number sent back."""
        head = self.finality.head(unless=self._watched_head)
        if head is None:
            return 0
        reorged = 0
        with Session(self.engine) as session:
            placed = session.exec(
                select(Operation.block_number, Operation.block_hash)
                .where(
                    col(Operation.status).in_(_SETTLED),
                    col(Operation.block_number) > head.finalized,
                )
                .distinct()
            ).all()
            numbers = sorted({n for n, _ in placed if n is not None})
            canonical = self.transport.block_hashes(numbers)
            gone = [(n, h) for n, h in placed if n is not None and canonical.get(n) != h]
            for number, block_hash in gone:
                ops = session.exec(
                    select(Operation).where(
                        col(Operation.status).in_(_SETTLED),
                        Operation.block_number == number,
                        Operation.block_hash == block_hash,
                    )
                ).all()
                for op in ops:
                    self._reorged(session, op, head)
                    reorged += 1
            session.commit()
        self._watched_head = (head.number, head.hash)
        return reorged

    def _reorged(self, session: Session, op: Operation, head: Head | None) -> None:
        log.warning(
            "relayer: %s (%s, tx %s) left the chain with block %s (%s); sending it again",
            op.id,
            op.status,
            op.tx_hash,
            op.block_number,
            op.block_hash,
        )
        session.add(
            OperationEvent(
                operation_id=op.id,
                event="reorged",
                tx_hash=op.tx_hash,
                tx_nonce=op.tx_nonce,
                block_number=op.block_number,
                block_hash=op.block_hash,
                detail=json.dumps(
                    {
                        "was": op.status,
                        "error_code": op.error_code,
                        "head": head.number if head else None,
                        "head_hash": head.hash if head else None,
                        "finalized": head.finalized if head else None,
                    }
                ),
            )
        )
        op.status = OperationStatus.SUBMITTED
        op.block_number = op.block_hash = None
        op.error_code = op.error_message = None
        op.reorged += 1
        op.updated_at = datetime.now(UTC)
        session.add(op)
        self._reorged_in_tick += 1

    # --- tracking ---------------------------------------------------------------------------

    def _track_submitted(self) -> tuple[int, int, int, int]:
        confirmed = failed = retried = 0
        with Session(self.engine) as session:
            submitted = list(
                session.exec(
                    select(Operation)
                    .where(Operation.status == OperationStatus.SUBMITTED)
                    .order_by(col(Operation.tx_nonce))
                ).all()
            )
            if not submitted:
                return 0, 0, 0, 0
            receipts = self._await_just_sent(submitted, self._receipts(submitted))
            # Read after the receipts, so every block they name is at or below it.
            head = int(self.chain.call(lambda: self.chain.w3.eth.block_number))
            lost: list[Operation] = []
            deep: list[tuple[Operation, Any]] = []
            for op, receipt in zip(submitted, receipts, strict=True):
                if receipt is None:
                    op.block_number = op.block_hash = None
                    lost.append(op)
                    continue
                op.block_number = receipt["blockNumber"]
                op.block_hash = HexBytes(receipt["blockHash"]).to_0x_hex()
                op.gas_used = receipt["gasUsed"]
                if receipt["status"] != 1:
                    if self._retry_or_fail(op, receipt):
                        retried += 1
                    else:
                        failed += 1
                elif head - op.block_number + 1 >= self.confirmations:
                    deep.append((op, receipt))
            canonical = self.transport.block_hashes(sorted({r["blockNumber"] for _, r in deep}))
            now = datetime.now(UTC)
            for op, receipt in deep:
                if canonical.get(receipt["blockNumber"]) == op.block_hash:
                    op.status = OperationStatus.CONFIRMED
                    op.result = json.dumps(
                        {**op.result_data(), **outcome(self._clients[op.contract], receipt)}
                    )
                    op.updated_at = now
                    confirmed += 1
            resent = self._recover(session, lost, submitted)
            session.commit()
        return confirmed, failed, resent, retried

    def _await_just_sent(self, ops: list[Operation], receipts: list[Any]) -> list[Any]:
        """Give the node a moment (``receipt_wait`` seconds at most) to mine what this tick
        sent: a node answers a raw send once it holds the transaction, before it mines it,
        even when it mines on arrival. Then one tick sends and confirms."""
        delay, waited = 0.005, 0.0
        while waited < self.receipt_wait:
            missing = [
                i
                for i, (op, receipt) in enumerate(zip(ops, receipts, strict=True))
                if receipt is None and op.tx_hash in self._just_sent
            ]
            if not missing:
                break
            time.sleep(delay)
            waited, delay = waited + delay, delay * 2
            for i, receipt in zip(missing, self._receipts([ops[i] for i in missing]), strict=True):
                receipts[i] = receipt
        return receipts

    def _receipts(self, ops: list[Operation]) -> list[Any]:
        """Each operation's receipt, or None while the chain has none."""
        return self.transport.receipts([op.tx_hash or "" for op in ops])

    def _retry_or_fail(self, op: Operation, receipt: Any) -> bool:
        """Settle a reverted operation: queue it again (True) or fail it with the decoded
        contract error (False)."""
        error = self.chain._replay_failure(
            {
                "from": op.sender,
                "to": self._clients[op.contract].address,
                "data": "0x" + calldata(op.contract, op.function, op.call_args()).hex(),
            },
            receipt["blockNumber"],
            op.tx_hash or "",
        )
        if op.attempts >= _MAX_ATTEMPTS or not fixable(op, error):
            fail(op, error)
            return False
        log.info("relayer: %s reverted (%s); queued again", op.id, error.message)
        unexplained = isinstance(error, TransactionFailedError) and not error.data
        op.status = OperationStatus.PENDING
        op.tx_hash = op.raw_tx = op.sender = None
        op.tx_nonce = op.block_number = None
        op.block_hash = None
        # Kept only for a revert the replay could not name: the next attempt is then estimated.
        op.gas_used = op.gas_used if unexplained else None
        op.updated_at = datetime.now(UTC)
        return True

    def _recover(
        self, session: Session, unmined: list[Operation], submitted: list[Operation]
    ) -> int:
        """Sent transactions without a receipt: leave those the node holds, re-broadcast those
        it lost, re-queue those whose nonce something else took, and fill the nonces below
        them that nothing holds any more. The number re-broadcast."""
        if not unmined:
            return 0
        address = self.account.address
        chain_nonce = int(
            self.chain.call(lambda: self.chain.w3.eth.get_transaction_count(address, "latest"))
        )
        # A settled operation at or above the account's count of mined transactions: its
        # transaction left the chain, whether or not the watch has seen it yet (a reorg between
        # the watch and now). It holds its nonce and is sent again; it must not be filled.
        left = session.exec(
            select(Operation).where(
                col(Operation.status).in_(_SETTLED), col(Operation.tx_nonce) >= chain_nonce
            )
        ).all()
        for op in left:
            self._reorged(session, op, None)
            unmined.append(op)
            submitted.append(op)
        held = {
            op.tx_nonce
            for op in submitted
            if op.status == OperationStatus.SUBMITTED and op.tx_nonce is not None
        }
        pending_nonce = self._pending_nonce()
        if (
            not left
            and all((op.tx_nonce or 0) >= chain_nonce for op in unmined)
            and pending_nonce > max(held, default=-1)
        ):
            # The node holds a transaction of this account at every nonce up to the highest
            # sent: nothing is lost, nothing to fill; they wait to be mined (the usual case on a
            # chain that mines on an interval). No per-transaction lookups.
            self._next_nonce = max(pending_nonce, self._next_nonce or 0)
            self._health = replace(self._health, chain_nonce=chain_nonce)
            return 0
        known = self.transport.known([op.tx_hash or "" for op in unmined])
        overtaken = [
            (op, seen) for op, seen in zip(unmined, known, strict=True)
            if (op.tx_nonce or 0) < chain_nonce
        ]  # fmt: skip
        receipts = self._receipts([op for op, _ in overtaken])
        for (op, seen), receipt in zip(overtaken, receipts, strict=True):
            if receipt is not None or seen:
                # Mined between the receipt lookup and the nonce read, or mined and its
                # receipt not served yet (anvil counts the nonce first): not lost at all.
                # Sending it anew would run it twice. Tracked next tick.
                continue
            # The nonce was consumed by another transaction: send this one anew.
            op.status = OperationStatus.PENDING
            op.tx_hash = op.raw_tx = None
            op.tx_nonce = None
        again = [
            op
            for op, seen in zip(unmined, known, strict=True)
            if (op.tx_nonce or 0) >= chain_nonce
            and op.raw_tx
            and not seen  # waiting in the node's pool: sending it again changes nothing
            and op.tx_hash not in self._just_sent
        ]
        held = {
            op.tx_nonce
            for op in submitted
            if op.status == OperationStatus.SUBMITTED and op.tx_nonce is not None
        }  # again: some were re-queued just now
        resend: list[tuple[str, str, int]] = [
            (op.id, op.raw_tx or "", op.tx_nonce or 0) for op in again
        ]
        resend += self._fill_gaps(session, chain_nonce, held)
        resend.sort(key=lambda sent: sent[2])
        if resend:
            self._broadcast(resend)
        # A node that lost blocks also lost our nonces: resume from what it knows, or from
        # just above the highest nonce still held (the ones between were filled or re-sent).
        self._next_nonce = max(self._pending_nonce(), max(held, default=-1) + 1)
        self._health = replace(self._health, chain_nonce=chain_nonce)
        return len(again)

    def _pending_nonce(self) -> int:
        """The node's next nonce for the account, counting what it holds in its pool."""
        address = self.account.address
        return int(
            self.chain.call(lambda: self.chain.w3.eth.get_transaction_count(address, "pending"))
        )

    def _fill_gaps(
        self, session: Session, chain_nonce: int, held: set[int]
    ) -> list[tuple[str, str, int]]:
        """Empty transfers (to the account itself) for every nonce from ``chain_nonce`` up to
        the highest ``held`` that no operation holds: without them the node parks everything
        above the gap for good. Priced a quarter above the tick's fees, so one replaces a
        transaction of ours the node may still hold at that nonce (a reverted attempt of an
        operation since re-signed at another nonce, brought back by a reorg)."""
        if not held:
            return []
        gaps = [n for n in range(chain_nonce, max(held)) if n not in held]
        if not gaps:
            return []
        fees = {k: v + v // 4 for k, v in ChainView(self.ledger).fees().items()}
        fillers: list[tuple[str, str, int]] = []
        for nonce in gaps:
            signed = self._signer.sign(
                chain_id=self.chain.chain_id,
                nonce=nonce,
                to=self.account.address,
                data=b"",
                gas=_FILLER_GAS,
                fees=fees,
            )
            tx_hash = "0x" + signed.hash.hex()
            log.warning("relayer: nonce %d held by no operation; filled by %s", nonce, tx_hash)
            session.add(
                OperationEvent(
                    event="nonce-gap-filled",
                    tx_hash=tx_hash,
                    tx_nonce=nonce,
                    detail=json.dumps({"chain_nonce": chain_nonce, "highest_held": max(held)}),
                )
            )
            fillers.append((f"nonce {nonce}", "0x" + signed.raw.hex(), nonce))
        self._gaps_filled += len(fillers)
        return fillers


def _claims_key(op: Operation) -> bool:
    return op.contract == "DepartmentRegistry" and op.function in _KEY_CLAIMS


_KEY_CLAIMS = frozenset({"enrolDepartment", "rotateDepartmentKey"})
