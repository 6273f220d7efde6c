"""Proof of who could read what, when: an offline bundle saying whether a department held a
grant to a dataset at a time, and its check against any node.

Trust preconditions: the checker trusts the node it checks against to serve the chain it
names (any node of the consortium; a second one cross-checks), and the access registry's
address (``--contract`` pins it; otherwise the bundle's is taken). Nothing here reads
provledger's database or API.

A bundle holds, for every request department B made for dataset D up to a block N whose time
is at or after T: each of the request's events (tx hash, block number, hash and time, log
index, decoded data) and the request's ``historyHead`` and ``eventCount`` as the contract
stored them at block N. The contract extends a request's head with every event it emits
(``IAccessRegistry.AccessRequest.historyHead``), so the events re-hashed must end at the stored
head: a node, or whoever built the bundle, that withholds a revocation ends the chain
elsewhere. The verdict is recomputed from the events alone, with the rule the service's
``grants_at`` uses: held at T if a request of B was approved in a block of time at or before T,
T is before its expiry, and it was not revoked nor superseded in a block of time at or before
T. Like a grant's terms, that leaves out the two things ``hasAccess`` also asks of the moment
it is asked: the dataset not withdrawn and the department active.

What the check cannot see: a node that withholds *every* log of a request (it never shows the
request at all) is caught only if the checker's node shows it (the set of requests is compared
with the checker's own ``eth_getLogs``); check against a node you trust, or two.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import BlockNotFound, TransactionNotFound

from ledger.chain.backend import Chain
from ledger.chain.clients.access import AccessRegistryClient
from ledger.chain.types import Event, RequestStatus
from ledger.encoding import jsonable
from ledger.errors import (
    AccessProofChainError,
    AccessProofError,
    AccessProofHeadError,
    AccessProofHistoryError,
    AccessProofIncompleteError,
    AccessProofMalformedError,
    AccessProofVerdictError,
    InvalidInputError,
    LedgerError,
)
from ledger.jsonguard import loads

__all__ = [
    "BUNDLE_FORMAT",
    "AccessProof",
    "AccessVerdict",
    "Grant",
    "RequestEvent",
    "RequestHistory",
    "check_access_proof",
    "history_head",
    "history_step",
    "prove_access",
    "verdict_at",
]

BUNDLE_FORMAT = "provledger-access-proof/1"

#: Each event of a request: the status it leaves the request in (the step's ``kind``) and its
#: fields after the kind, with their ABI types (``IAccessRegistry.AccessRequest.historyHead``).
_STEPS: dict[str, tuple[RequestStatus, tuple[tuple[str, str], ...]]] = {
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
    step = _STEPS.get(event.event)
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


# --- building a bundle from a node ----------------------------------------------------------


def _topic(client: AccessRegistryClient, name: str) -> str:
    return "0x" + client.event_topic(name).hex()


def _logs(chain: Chain, query: dict[str, Any]) -> list[Any]:
    return list(chain.call(lambda: chain.w3.eth.get_logs(query)))  # type: ignore[arg-type]


def _block(chain: Chain, number: int) -> tuple[str, int]:
    """A block's hash and time; a block the node does not have is not on the chain."""

    def header() -> Any:
        try:
            return chain.w3.eth.get_block(number)
        except BlockNotFound:
            return None

    found = chain.call(header)
    if found is None:
        raise AccessProofChainError(f"the chain has no block {number}")
    return HexBytes(found["hash"]).to_0x_hex(), int(found["timestamp"])


def _request_ids(
    chain: Chain, client: AccessRegistryClient, dataset_id: bytes, department_id: int, *, upto: int
) -> list[bytes]:
    logs = _logs(
        chain,
        {
            "address": client.address,
            "fromBlock": 0,
            "toBlock": upto,
            "topics": [
                _topic(client, "AccessRequested"),
                None,
                "0x" + dataset_id.hex(),
                "0x" + department_id.to_bytes(32, "big").hex(),
            ],
        },
    )
    return [bytes(e.args["requestId"]) for e in client.decode_events(logs)]


def _request_event(event: Event, block_time: int) -> RequestEvent:
    return RequestEvent(
        event=event.name,
        args={k: v for k, v in jsonable(event.args).items() if k != "requestId"},
        tx_hash=event.tx_hash,
        block_number=event.block_number,
        block_hash=event.block_hash,
        block_time=block_time,
        log_index=event.log_index,
    )


def prove_access(
    chain: Chain,
    contract: str,
    dataset_id: bytes,
    department_id: int,
    at: int,
    *,
    block: int | None = None,
) -> AccessProof:
    """The bundle for ``department_id`` and ``dataset_id`` at ``at`` (Unix seconds), its state
    read at ``block`` (default: the latest), whose time must be at or after ``at``."""
    client = AccessRegistryClient(chain, contract)
    number = block if block is not None else chain.head()[0]
    block_hash, block_time = _block(chain, number)
    if block_time < at:
        raise InvalidInputError(
            f"the chain has not reached {at} yet: block {number} is of time {block_time}; "
            "a proof needs a block at or after the time it is about"
        )
    ids = _request_ids(chain, client, dataset_id, department_id, upto=number)
    by_request: dict[bytes, list[Event]] = {r: [] for r in ids}
    if ids:
        logs = _logs(
            chain,
            {
                "address": client.address,
                "fromBlock": 0,
                "toBlock": number,
                "topics": [
                    [_topic(client, name) for name in _STEPS],
                    ["0x" + r.hex() for r in ids],
                ],
            },
        )
        for event in client.decode_events(logs):
            by_request[bytes(event.args["requestId"])].append(event)
    times: dict[int, int] = {}
    requests = []
    for request_id, events in by_request.items():
        events.sort(key=lambda e: (e.block_number, e.log_index))
        for event in events:
            if event.block_number not in times:
                times[event.block_number] = _block(chain, event.block_number)[1]
        stored = client.stored_request(request_id, block=number)
        requests.append(
            RequestHistory(
                request_id="0x" + request_id.hex(),
                history_head="0x" + stored.history_head.hex(),
                event_count=stored.event_count,
                events=tuple(_request_event(e, times[e.block_number]) for e in events),
            )
        )
    return AccessProof(
        chain_id=chain.chain_id,
        contract=client.address,
        dataset_id="0x" + dataset_id.hex(),
        department_id=department_id,
        at=at,
        block_number=number,
        block_hash=block_hash,
        block_time=block_time,
        requests=tuple(requests),
        verdict=verdict_at(requests, at),
    )


# --- checking a bundle ----------------------------------------------------------------------


def _parse(text: str) -> AccessProof:
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


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _check_offline(proof: AccessProof) -> None:
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
        if not _same(str(first.get("datasetId")), proof.dataset_id) or int(
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
        if not _same(head, request.history_head) or len(events) != request.event_count:
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


def _check_block(chain: Chain, number: int, block_hash: str, block_time: int, what: str) -> None:
    found_hash, found_time = _block(chain, number)
    if not _same(found_hash, block_hash) or found_time != block_time:
        raise AccessProofChainError(
            f"{what}: block {number} is {block_hash} of time {block_time} in the bundle, "
            f"{found_hash} of time {found_time} on the chain"
        )


def _check_event(
    chain: Chain, client: AccessRegistryClient, request_id: str, e: RequestEvent
) -> None:
    def receipt() -> Any:
        try:
            return chain.w3.eth.get_transaction_receipt(e.tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    found_receipt = chain.call(receipt)
    if found_receipt is None:
        raise AccessProofChainError(f"the chain has no transaction {e.tx_hash}")
    logs = [log for log in found_receipt["logs"] if int(log["logIndex"]) == e.log_index]
    decoded = client.decode_events(logs)
    expected = {**e.args, "requestId": request_id}
    if len(decoded) != 1 or decoded[0].name != e.event:
        raise AccessProofChainError(
            f"tx {e.tx_hash} log {e.log_index}: expected {e.event}, the chain has "
            f"{decoded[0].name if decoded else 'no such log of the contract'}"
        )
    found = decoded[0]
    args = jsonable(found.args)
    if (
        {k: str(v).lower() for k, v in args.items()}
        != {k: str(v).lower() for k, v in expected.items()}
        or found.block_number != e.block_number
        or not _same(found.block_hash, e.block_hash)
    ):
        raise AccessProofChainError(
            f"tx {e.tx_hash} log {e.log_index}: expected {e.event} {expected} in block "
            f"{e.block_number}, the chain has {args} in block {found.block_number}"
        )


def check_access_proof(
    text: str,
    *,
    chain: Chain | None = None,
    contract: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> AccessProof:
    """Re-check a bundle: its events against its heads and its verdict with no network, then,
    given ``chain``, everything against that node at the bundle's block. Raises a subclass of
    :class:`~ledger.errors.AccessProofError` naming what differs; returns the checked proof.

    ``contract`` pins the access registry (a bundle for another contract is refused)."""
    proof = _parse(text)
    _check_offline(proof)
    if contract is not None and not _same(contract, proof.contract):
        raise AccessProofChainError(
            f"the bundle is for contract {proof.contract}, expected {contract}"
        )
    if chain is None:
        return proof
    if chain.chain_id != proof.chain_id:
        raise AccessProofChainError(
            f"the bundle is for chain {proof.chain_id}, the node serves chain {chain.chain_id}"
        )
    client = AccessRegistryClient(chain, proof.contract)
    _check_block(chain, proof.block_number, proof.block_hash, proof.block_time, "the state block")
    for request in proof.requests:
        request_id = bytes(HexBytes(request.request_id))
        stored = client.stored_request(request_id, block=proof.block_number)
        head = "0x" + stored.history_head.hex()
        if not _same(head, request.history_head) or stored.event_count != request.event_count:
            raise AccessProofHeadError(
                f"request {request.request_id}: the bundle claims head {request.history_head} "
                f"after {request.event_count} events, the contract stores {head} after "
                f"{stored.event_count} at block {proof.block_number}"
            )
        for event in request.events:
            _check_block(chain, event.block_number, event.block_hash, event.block_time, event.event)
            _check_event(chain, client, request.request_id, event)
        if progress is not None:
            progress(request.request_id)
    on_chain = {
        "0x" + r.hex()
        for r in _request_ids(
            chain,
            client,
            bytes(HexBytes(proof.dataset_id)),
            proof.department_id,
            upto=proof.block_number,
        )
    }
    in_bundle = {r.request_id.lower() for r in proof.requests}
    missing = sorted(on_chain - in_bundle)
    if missing:
        raise AccessProofIncompleteError(
            f"the chain has {len(on_chain)} requests of department {proof.department_id} for "
            f"{proof.dataset_id} up to block {proof.block_number}, the bundle leaves out "
            f"{', '.join(missing)}"
        )
    return proof
