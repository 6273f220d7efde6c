"""An access proof bundle with no network: its JSON form, the history chain a request's events
hash to (as ``IAccessRegistry.AccessRequest.historyHead`` documents it), the verdict the
events give, and the checks a bundle must pass before any node is asked."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from ledger.chain.types import RequestStatus
from ledger.errors import (
    AccessProofError,
    AccessProofHistoryError,
    AccessProofMalformedError,
    AccessProofVerdictError,
    LedgerError,
)
from ledger.jsonguard import loads

BUNDLE_FORMAT = "provledger-access-proof/1"

#: Each event of a request: the status it leaves the request in (the step's ``kind``) and its
#: fields after the kind, with their ABI types (``IAccessRegistry.AccessRequest.historyHead``).
STEPS: dict[str, tuple[RequestStatus, tuple[tuple[str, str], ...]]] = {
    "AccessRequested": (
        RequestStatus.PENDING,
        (
            ("datasetId", "bytes32"),
            ("requester", "uint64"),
            ("salt", "bytes32"),
            ("purposeHash", "bytes32"),
            ("requestedDuration", "uint64"),
        ),
    ),
    "AccessApproved": (RequestStatus.APPROVED, (("expiresAt", "uint64"),)),
    "AccessDenied": (RequestStatus.DENIED, (("reasonHash", "bytes32"),)),
    "AccessRequestCancelled": (RequestStatus.CANCELLED, ()),
    "AccessRevoked": (RequestStatus.REVOKED, (("reasonHash", "bytes32"),)),
    "AccessSuperseded": (RequestStatus.SUPERSEDED, (("supersededBy", "bytes32"),)),
}
_ENDINGS = ("AccessRevoked", "AccessSuperseded")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestEvent:
    """One event of a request, with where it is on the chain; ``args`` in JSON form (bytes as
    0x-hex)."""

    event: str
    args: dict[str, Any]
    tx_hash: str
    block_number: int
    block_hash: str
    block_time: int
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "args": self.args,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "block_time": self.block_time,
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestHistory:
    """A request's events, oldest first, and the head and count the contract stored."""

    request_id: str
    history_head: str
    event_count: int
    events: tuple[RequestEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "history_head": self.history_head,
            "event_count": self.event_count,
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """The approval that decides the verdict and how it ended, if it ended by T."""

    request_id: str
    approved_at: int
    approved_tx: str
    expires_at: int
    ended: str | None = None  # "revoked" or "superseded", at or before T
    ended_at: int | None = None
    ended_tx: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessVerdict:
    """Whether the department held a grant at T, and why: ``granted``, ``never-granted``
    (no approval at or before T), ``expired``, ``revoked`` or ``superseded``; ``grant`` is the
    latest approval at or before T (None if there was none)."""

    held: bool
    reason: str
    grant: Grant | None

    def to_dict(self) -> dict[str, Any]:
        grant = None
        if self.grant is not None:
            g = self.grant
            grant = {
                "request_id": g.request_id,
                "approved_at": g.approved_at,
                "approved_tx": g.approved_tx,
                "expires_at": g.expires_at,
                "ended": g.ended,
                "ended_at": g.ended_at,
                "ended_tx": g.ended_tx,
            }
        return {"held": self.held, "reason": self.reason, "grant": grant}


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessProof:
    """The bundle: who, what, when, the state block and every request with its events."""

    chain_id: int
    contract: str
    dataset_id: str
    department_id: int
    at: int
    block_number: int
    block_hash: str
    block_time: int
    requests: tuple[RequestHistory, ...]
    verdict: AccessVerdict = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "dataset_id": self.dataset_id,
            "department_id": self.department_id,
            "at": self.at,
            "block": {
                "number": self.block_number,
                "hash": self.block_hash,
                "time": self.block_time,
            },
            "requests": [r.to_dict() for r in self.requests],
            "verdict": self.verdict.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


# --- the history chain and the verdict (no network) -----------------------------------------


def _word(value: Any) -> bytes:
    raw = bytes(HexBytes(value))
    if len(raw) != 32:
        raise AccessProofMalformedError(f"expected a 32-byte value, got {len(raw)} bytes")
    return raw


def history_step(head: bytes, event: RequestEvent) -> bytes:
    """One link of a request's history chain, as the contract computes it."""
    step = STEPS.get(event.event)
    if step is None:
        raise AccessProofMalformedError(f"{event.event!r} is not an event of an access request")
    kind, members = step
    types = ["bytes32", "uint8"]
    values: list[Any] = [head, int(kind)]
    for name, abi_type in members:
        if name not in event.args:
            raise AccessProofMalformedError(f"{event.event} has no {name}")
        value = event.args[name]
        types.append(abi_type)
        values.append(_word(value) if abi_type == "bytes32" else int(value))
    types.append("uint256")
    values.append(int(event.block_time))
    return keccak(abi_encode(types, values))


def history_head(events: Iterable[RequestEvent]) -> bytes:
    """The head a request's events, oldest first, hash to (zero for none)."""
    head = bytes(32)
    for event in events:
        head = history_step(head, event)
    return head


def verdict_at(requests: Sequence[RequestHistory], at: int) -> AccessVerdict:
    """Whether any of ``requests`` was a grant in force at ``at`` (see the module's rule)."""
    latest: tuple[RequestEvent, RequestHistory] | None = None
    for request in requests:
        for event in request.events:
            if event.event == "AccessApproved" and event.block_time <= at:
                key = (event.block_number, event.log_index)
                if latest is None or key > (latest[0].block_number, latest[0].log_index):
                    latest = (event, request)
    if latest is None:
        return AccessVerdict(held=False, reason="never-granted", grant=None)
    approval, request = latest
    ending = next((e for e in request.events if e.event in _ENDINGS and e.block_time <= at), None)
    expires_at = int(approval.args["expiresAt"])
    grant = Grant(
        request_id=request.request_id,
        approved_at=approval.block_time,
        approved_tx=approval.tx_hash,
        expires_at=expires_at,
        ended=None if ending is None else _ending_name(ending.event),
        ended_at=None if ending is None else ending.block_time,
        ended_tx=None if ending is None else ending.tx_hash,
    )
    if ending is not None:
        return AccessVerdict(held=False, reason=_ending_name(ending.event), grant=grant)
    if at >= expires_at:  # the contract's block.timestamp < expiresAt
        return AccessVerdict(held=False, reason="expired", grant=grant)
    return AccessVerdict(held=True, reason="granted", grant=grant)


def _ending_name(event: str) -> str:
    return "revoked" if event == "AccessRevoked" else "superseded"


# --- reading and checking a bundle ---------------------------------------------------------


def parse_bundle(text: str) -> AccessProof:
    """The bundle in ``text``, or :class:`AccessProofMalformedError` saying why not."""
    try:
        document = loads(text)
        if not isinstance(document, dict) or document.get("format") != BUNDLE_FORMAT:
            found = document.get("format") if isinstance(document, dict) else None
            raise AccessProofMalformedError(
                f"expected a {BUNDLE_FORMAT} bundle, got format {found!r}"
            )
        requests = tuple(
            RequestHistory(
                request_id=str(r["request_id"]),
                history_head=str(r["history_head"]),
                event_count=int(r["event_count"]),
                events=tuple(
                    RequestEvent(
                        event=str(e["event"]),
                        args=dict(e["args"]),
                        tx_hash=str(e["tx_hash"]),
                        block_number=int(e["block_number"]),
                        block_hash=str(e["block_hash"]),
                        block_time=int(e["block_time"]),
                        log_index=int(e["log_index"]),
                    )
                    for e in r["events"]
                ),
            )
            for r in document["requests"]
        )
        claimed = document["verdict"]
        grant = claimed.get("grant")
        verdict = AccessVerdict(
            held=bool(claimed["held"]),
            reason=str(claimed["reason"]),
            grant=None if grant is None else Grant(**grant),
        )
        block = document["block"]
        return AccessProof(
            chain_id=int(document["chain_id"]),
            contract=str(document["contract"]),
            dataset_id=str(document["dataset_id"]),
            department_id=int(document["department_id"]),
            at=int(document["at"]),
            block_number=int(block["number"]),
            block_hash=str(block["hash"]),
            block_time=int(block["time"]),
            requests=requests,
            verdict=verdict,
        )
    except AccessProofError:
        raise
    except (LedgerError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AccessProofMalformedError(f"not a readable access proof bundle: {exc}") from exc


def same_hex(a: str, b: str) -> bool:
    """Two 0x-hex spellings of the same value (any case)."""
    return a.lower() == b.lower()


def check_offline(proof: AccessProof) -> None:
    """What a bundle must hold by itself: its requests are the department's for the dataset,
    each history starts with the request and re-hashes to the head it claims, and its verdict
    is the one its events give."""
    if proof.block_time < proof.at:
        raise AccessProofMalformedError(
            f"the state block {proof.block_number} is of time {proof.block_time}, before the "
            f"time {proof.at} the proof is about"
        )
    for request in proof.requests:
        events = request.events
        if not events or events[0].event != "AccessRequested":
            raise AccessProofHistoryError(
                f"request {request.request_id}: its history does not start with AccessRequested"
            )
        first = events[0].args
        if not same_hex(str(first.get("datasetId")), proof.dataset_id) or int(
            first.get("requester", -1)
        ) != int(proof.department_id):
            raise AccessProofMalformedError(
                f"request {request.request_id} is not department {proof.department_id}'s "
                f"request for {proof.dataset_id}"
            )
        order = [(e.block_number, e.log_index) for e in events]
        if order != sorted(order) or any(e.block_number > proof.block_number for e in events):
            raise AccessProofMalformedError(
                f"request {request.request_id}: events out of order or after block "
                f"{proof.block_number}"
            )
        head = "0x" + history_head(events).hex()
        if not same_hex(head, request.history_head) or len(events) != request.event_count:
            raise AccessProofHistoryError(
                f"request {request.request_id}: expected its {request.event_count} events to "
                f"hash to {request.history_head}, got {len(events)} hashing to {head} "
                "(an event is missing, added or altered)"
            )
    fresh = verdict_at(proof.requests, proof.at)
    if fresh != proof.verdict:
        raise AccessProofVerdictError(
            f"the events give {fresh.reason} (held: {fresh.held}, grant {fresh.grant}), the "
            f"bundle claims {proof.verdict.reason} (held: {proof.verdict.held}, grant "
            f"{proof.verdict.grant})"
        )
