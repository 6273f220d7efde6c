"""An access proof built from a node and checked against one: ``eth_getLogs`` for the
requests and their events, ``eth_getStorageAt`` for the heads the contract stored at the
bundle's block, headers and receipts for the events' coordinates."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from web3.exceptions import BlockNotFound, TransactionNotFound

from ledger.access_proof.bundle import (
    STEPS,
    AccessProof,
    RequestEvent,
    RequestHistory,
    check_offline,
    parse_bundle,
    same_hex,
    verdict_at,
)
from ledger.chain.backend import Chain
from ledger.chain.clients.access import AccessRegistryClient
from ledger.chain.types import Event
from ledger.encoding import jsonable
from ledger.errors import (
    AccessProofChainError,
    AccessProofHeadError,
    AccessProofIncompleteError,
    InvalidInputError,
)


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
                    [_topic(client, name) for name in STEPS],
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
        stored = client.access_request(request_id, block=number)
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


def _check_block(chain: Chain, number: int, block_hash: str, block_time: int, what: str) -> None:
    found_hash, found_time = _block(chain, number)
    if not same_hex(found_hash, block_hash) or found_time != block_time:
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
        or not same_hex(found.block_hash, e.block_hash)
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
) -> AccessProof:
    """Re-check a bundle: its events against its heads and its verdict with no network, then,
    given ``chain``, everything against that node at the bundle's block. Raises a subclass of
    :class:`~ledger.errors.AccessProofError` naming what differs; returns the checked proof.

    ``contract`` pins the access registry (a bundle for another contract is refused)."""
    proof = parse_bundle(text)
    check_offline(proof)
    if contract is not None and not same_hex(contract, proof.contract):
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
        stored = client.access_request(request_id, block=proof.block_number)
        head = "0x" + stored.history_head.hex()
        if not same_hex(head, request.history_head) or stored.event_count != request.event_count:
            raise AccessProofHeadError(
                f"request {request.request_id}: the bundle claims head {request.history_head} "
                f"after {request.event_count} events, the contract stores {head} after "
                f"{stored.event_count} at block {proof.block_number}"
            )
        for event in request.events:
            _check_block(chain, event.block_number, event.block_hash, event.block_time, event.event)
            _check_event(chain, client, request.request_id, event)
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
    # State, not logs: a node that withholds every log of the live grant cannot hide it.
    live = client.live_grant(
        bytes(HexBytes(proof.dataset_id)), proof.department_id, block=proof.block_number
    )
    if any(live):
        on_chain.add("0x" + live.hex())
    missing = sorted(on_chain - in_bundle)
    if missing:
        raise AccessProofIncompleteError(
            f"the chain has {len(on_chain)} requests of department {proof.department_id} for "
            f"{proof.dataset_id} up to block {proof.block_number}, the bundle leaves out "
            f"{', '.join(missing)}"
        )
    return proof
