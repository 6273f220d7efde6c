"""From chain logs to index rows: decoding logs into ``index_events`` rows, and projecting
those rows into the current state of departments, datasets, grants…

Each handler takes one ``index_events`` row (as a mapping, args already JSON-shaped: hex
strings and ints) and applies it to the projection tables. Live indexing and :func:`rebuild`
go through the same handlers with the same stored rows, which is what makes a rebuilt or
reindexed projection identical to an incrementally built one.

The contracts enforce every transition (only a pending request can be approved, a dataset's
versions are numbered 1, 2, …), so the handlers trust the event order and do not re-validate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak
from sqlalchemy import Connection, Table, Update, bindparam, delete, insert, select, tuple_, update

from ledger import merkle
from ledger.anchoring.models import QueuedRecord
from ledger.anchoring.records import BatchRecord, RecordKind
from ledger.chain.abi_json import canonical_type
from ledger.chain.types import Classification
from ledger.errors import InvalidInputError
from ledger.index.models import (
    ACCESS_REQUESTS,
    ANCHORS,
    DATASETS,
    DEPARTMENT_KEYS,
    DEPARTMENTS,
    ENCRYPTION_KEYS,
    EVENTS,
    PAUSE_STATE,
    PROJECTION_TABLES,
    VERSION_PARENTS,
    VERSIONS,
)

QUEUED: Table = QueuedRecord.__table__  # type: ignore[attr-defined]
EventRow = Mapping[Any, Any]  # an index_events row: a dict or a SQLAlchemy RowMapping
_PAGE = 1_000
Handler = Callable[[Connection, EventRow], None]


def _coordinates(prefix: str, event: EventRow) -> dict[str, Any]:
    keys = ("tx_hash", "block_number", "block_hash", "log_index")
    return {**{f"{prefix}_{k}": event[k] for k in keys}, f"{prefix}_at": event["block_time"]}


def _created(event: EventRow) -> dict[str, Any]:
    return _coordinates("created", event)


def _updated(event: EventRow) -> dict[str, Any]:
    return _coordinates("updated", event)


def _new(event: EventRow) -> dict[str, Any]:
    """Coordinates of a mutable row's creation, which is also its last change so far."""
    return {**_created(event), **_updated(event)}


def _add(conn: Connection, table: Table, **values: Any) -> None:
    """Insert one row. Values travel as parameters of a constant statement, so SQLAlchemy
    compiles it once: building a statement per event was most of the indexing time."""
    conn.execute(table.insert(), values)


def _change(
    conn: Connection, table: Table, key: Mapping[str, Any], event: EventRow, **values: Any
) -> None:
    """Set ``values`` on the row with ``key`` and record ``event`` as its last change."""
    params = {f"key_{name}": value for name, value in key.items()}
    conn.execute(_keyed_update(table, tuple(key)), {**params, **values, **_updated(event)})


@cache
def _keyed_update(table: Table, key: tuple[str, ...]) -> Update:
    """``UPDATE table SET … WHERE key = :key_…``; the SET list follows the parameters given."""
    return update(table).where(*(table.c[name] == bindparam(f"key_{name}") for name in key))


# --- departments -------------------------------------------------------------------------------


def _department_enrolled(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    _add(
        conn,
        DEPARTMENTS,
        department_id=args["departmentId"],
        name=args["name"],
        signer=args["signer"],
        status="active",
        **_new(event),
    )
    _add_key(conn, event, args["departmentId"], args["signer"])


def _add_key(conn: Connection, event: EventRow, department_id: int, signer: str) -> None:
    _add(
        conn,
        DEPARTMENT_KEYS,
        signer=signer,
        department_id=department_id,
        valid_from_block=event["block_number"],
        **_new(event),
    )


def _department_key_rotated(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    department = {"department_id": args["departmentId"]}
    _change(conn, DEPARTMENTS, department, event, signer=args["newSigner"])
    _change(
        conn,
        DEPARTMENT_KEYS,
        {"signer": args["previousSigner"]},
        event,
        valid_until_block=event["block_number"],
        valid_until_time=event["block_time"],
    )
    _add_key(conn, event, args["departmentId"], args["newSigner"])


def _department_suspended(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    _change(
        conn,
        DEPARTMENTS,
        {"department_id": args["departmentId"]},
        event,
        status="suspended",
        suspension_reason_hash=args["reasonHash"],
    )


def _department_reactivated(conn: Connection, event: EventRow) -> None:
    department = {"department_id": event["args"]["departmentId"]}
    _change(conn, DEPARTMENTS, department, event, status="active", suspension_reason_hash=None)


def _pause_switched(conn: Connection, event: EventRow) -> None:
    values = {"paused": event["event"] == "Paused", "changed_by": event["args"]["account"]}
    key = {"address": event["address"]}
    exists = conn.execute(
        select(PAUSE_STATE.c.address).where(PAUSE_STATE.c.address == event["address"])
    ).first()
    if exists is None:
        _add(conn, PAUSE_STATE, **key, **values, **_new(event))
    else:
        _change(conn, PAUSE_STATE, key, event, **values)


def _encryption_key_published(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    _add(
        conn,
        ENCRYPTION_KEYS,
        department_id=args["departmentId"],
        serial=args["serial"],
        kem_id=args["kemId"],
        key_hash=args["keyHash"],
        public_key=args["publicKey"],
        **_created(event),
    )


# --- datasets ----------------------------------------------------------------------------------


# A dataset is registered either by its own events or by a record of an anchored batch: both
# go through these helpers, so the two kinds of dataset project into the same rows alike.


def _add_dataset(
    conn: Connection, event: EventRow, dataset_id: str, classification: int, **values: Any
) -> None:
    """Insert a new active dataset; its first version is added next, in the same event or
    transaction, and counts it up from zero."""
    _add(
        conn,
        DATASETS,
        dataset_id=dataset_id,
        classification=Classification(classification).name.lower(),
        status="active",
        version_count=0,
        **values,
        **_new(event),
    )


def _add_version(
    conn: Connection,
    event: EventRow,
    dataset_id: str,
    version: int,
    parents: Sequence[tuple[str, int]],
    **values: Any,
) -> None:
    """Insert a version and its lineage edges (``parents`` as (dataset id, version), in
    order), and make it its dataset's latest."""
    _add(
        conn,
        VERSIONS,
        dataset_id=dataset_id,
        version=version,
        parent_count=len(parents),
        **values,
        **_created(event),
    )
    if parents:
        conn.execute(
            insert(VERSION_PARENTS),
            [
                {
                    "dataset_id": dataset_id,
                    "version": version,
                    "position": position,
                    "parent_dataset_id": parent_dataset_id,
                    "parent_version": parent_version,
                    **_created(event),
                }
                for position, (parent_dataset_id, parent_version) in enumerate(parents)
            ],
        )


def _withdraw_dataset(conn: Connection, event: EventRow, dataset_id: str, reason: str) -> None:
    _change(
        conn,
        DATASETS,
        {"dataset_id": dataset_id},
        event,
        status="withdrawn",
        withdrawn_reason_hash=reason,
        withdrawn_at=event["block_time"],
    )


def _dataset_created(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    _add_dataset(
        conn,
        event,
        args["datasetId"],
        args["classification"],
        owner=args["owner"],
        salt=args["salt"],
        metadata_hash=args["metadataHash"],
    )


def _version_added(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    dataset_id, number = args["datasetId"], args["version"]
    _add_version(
        conn,
        event,
        dataset_id,
        number,
        [(parent["datasetId"], parent["version"]) for parent in args["parents"]],
        content_hash=args["contentHash"],
        metadata_hash=args["metadataHash"],
        department_id=args["department"],
        history_head=args["historyHead"],
    )
    _change(
        conn,
        DATASETS,
        {"dataset_id": dataset_id},
        event,
        version_count=number,
        history_head=args["historyHead"],
    )


def _dataset_withdrawn(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    _withdraw_dataset(conn, event, args["datasetId"], args["reasonHash"])


# --- access ------------------------------------------------------------------------------------


def _access_requested(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    _add(
        conn,
        ACCESS_REQUESTS,
        request_id=args["requestId"],
        dataset_id=args["datasetId"],
        requester=args["requester"],
        salt=args["salt"],
        purpose_hash=args["purposeHash"],
        requested_duration=args["requestedDuration"],
        status="pending",
        **_new(event),
    )


def _request_change(**values: Any) -> Callable[[Connection, EventRow], None]:
    """A handler setting ``values`` on the event's request; a value that is a callable is
    computed from the event (``lambda e: e["args"]["reasonHash"]``)."""

    def handler(conn: Connection, event: EventRow) -> None:
        computed = {k: v(event) if callable(v) else v for k, v in values.items()}
        key = {"request_id": event["args"]["requestId"]}
        _change(conn, ACCESS_REQUESTS, key, event, **computed)

    return handler


def _arg(name: str) -> Callable[[EventRow], Any]:
    return lambda event: event["args"][name]


def _block_time(event: EventRow) -> Any:
    return event["block_time"]


# --- anchors -----------------------------------------------------------------------------------


def _batch_anchored(conn: Connection, event: EventRow) -> None:
    args = event["args"]
    _add(
        conn,
        ANCHORS,
        root=args["root"],
        department_id=args["department"],
        size=args["size"],
        metadata_hash=args["metadataHash"],
        **_created(event),
    )
    for record in anchored_records(conn, args["root"], args["department"], args["size"]):
        _batched_record(conn, event, record)


def anchored_records(
    conn: Connection, root: str, department_id: int, size: int
) -> list[tuple[int, BatchRecord]]:
    """The records behind an anchored root, in leaf order, as this service queued them.

    Used only if they are exactly the anchored tree: every stored digest recomputed from its
    record and the root rebuilt from the digests. Any other root (another service's batch, or
    records this database lost) projects nothing beyond the anchor itself.
    """
    rows = conn.execute(
        select(QUEUED.c.leaf_index, QUEUED.c.record, QUEUED.c.digest)
        .where(QUEUED.c.batch_root == root.lower(), QUEUED.c.department_id == department_id)
        .order_by(QUEUED.c.leaf_index)
    ).all()
    if len(rows) != size or [row.leaf_index for row in rows] != list(range(size)):
        return []
    records = [BatchRecord.from_json(json.loads(row.record)) for row in rows]
    digests = [record.digest() for record in records]
    if ["0x" + d.hex() for d in digests] != [row.digest for row in rows]:
        return []
    if "0x" + merkle.MerkleTree(digests).root.hex() != root.lower():
        return []
    return list(enumerate(records))


def _batched_record(conn: Connection, event: EventRow, item: tuple[int, BatchRecord]) -> None:
    leaf_index, record = item
    dataset_id = "0x" + record.dataset_id.hex()
    if record.kind == RecordKind.WITHDRAW:
        _withdraw_dataset(conn, event, dataset_id, "0x" + record.metadata_hash.hex())
        return
    if record.kind == RecordKind.CREATE:
        _add_dataset(
            conn,
            event,
            dataset_id,
            record.classification,
            owner=record.department_id,
            salt="0x" + record.salt.hex(),
            metadata_hash="0x" + record.dataset_metadata_hash.hex(),
            anchoring="batch",
        )
    _add_version(
        conn,
        event,
        dataset_id,
        record.version,
        [("0x" + parent.hex(), version) for parent, version in record.parents],
        content_hash="0x" + record.content_hash.hex(),
        metadata_hash="0x" + record.metadata_hash.hex(),
        department_id=record.department_id,
        history_head=None,
        anchor_root=event["args"]["root"],
        leaf_index=leaf_index,
        record_digest="0x" + record.digest().hex(),
    )
    _change(conn, DATASETS, {"dataset_id": dataset_id}, event, version_count=record.version)


#: Events that change a projection. Others (role changes, admin transfers, EIP712DomainChanged)
#: are kept in ``index_events`` only.
HANDLERS: dict[str, Handler] = {
    "DepartmentEnrolled": _department_enrolled,
    "DepartmentKeyRotated": _department_key_rotated,
    "DepartmentSuspended": _department_suspended,
    "DepartmentReactivated": _department_reactivated,
    "Paused": _pause_switched,
    "Unpaused": _pause_switched,
    "EncryptionKeyPublished": _encryption_key_published,
    "DatasetCreated": _dataset_created,
    "VersionAdded": _version_added,
    "DatasetWithdrawn": _dataset_withdrawn,
    "AccessRequested": _access_requested,
    "AccessApproved": _request_change(
        status="approved", expires_at=_arg("expiresAt"), answered_at=_block_time
    ),
    "AccessDenied": _request_change(
        status="denied", deny_reason_hash=_arg("reasonHash"), answered_at=_block_time
    ),
    "AccessRequestCancelled": _request_change(status="cancelled"),
    "AccessRevoked": _request_change(
        status="revoked", revoke_reason_hash=_arg("reasonHash"), revoked_at=_block_time
    ),
    "AccessSuperseded": _request_change(status="superseded", superseded_by=_arg("supersededBy")),
    "BatchAnchored": _batch_anchored,
}


def apply(conn: Connection, event: EventRow) -> None:
    """Apply one stored event to the projections (a no-op for events without a handler)."""
    handler = HANDLERS.get(event["event"])
    if handler is not None:
        handler(conn, event)


def rebuild(conn: Connection) -> int:
    """Recompute every projection from ``index_events``, in chain order; the events replayed.

    Replaying everything is O(all events) but simple and obviously correct; it only runs after
    a reorg that orphaned events, which is rare and shallow on the chains provledger targets.
    """
    for table in PROJECTION_TABLES:
        conn.execute(delete(table))
    count = 0
    position = (-1, -1)
    order = (EVENTS.c.block_number, EVENTS.c.log_index)
    while True:
        # Keyset pages keep memory flat on a large index without holding a cursor open while
        # the handlers write on the same connection.
        page = (
            conn.execute(
                select(EVENTS).where(tuple_(*order) > position).order_by(*order).limit(_PAGE)
            )
            .mappings()
            .all()
        )
        for row in page:
            apply(conn, row)
        count += len(page)
        if len(page) < _PAGE:
            return count
        position = (page[-1]["block_number"], page[-1]["log_index"])


# --- decoding ----------------------------------------------------------------------------------


class LogDecoder:
    """Decodes one contract's logs into JSON-shaped event arguments.

    It gives the same names and values as the client's ``decode_events`` but calls ``eth_abi``
    directly: web3's generic event decoding dominated indexing time (about 1.6 ms a log). The
    types of each event are worked out once, and indexed values of the static types our events
    use (integers, addresses, fixed bytes) are read straight from their topic word, which is
    what ``eth_abi`` does for them, at a small fraction of its per-call cost.
    """

    def __init__(self, abi: Sequence[dict[str, Any]]) -> None:
        self._events: dict[bytes, _Event] = {}
        for item in abi:
            if item["type"] == "event" and not item.get("anonymous", False):
                signature = f"{item['name']}({','.join(canonical_type(i) for i in item['inputs'])})"
                self._events[keccak(text=signature)] = _Event(item["name"], item["inputs"])

    def decode(self, topics: list[bytes], data: bytes) -> tuple[str, dict[str, Any]] | None:
        """The event's name and arguments, or None if this ABI has no such event."""
        if not topics or (event := self._events.get(bytes(topics[0]))) is None:
            return None
        values: dict[str, Any] = dict(
            zip(event.plain_names, abi_decode(event.plain_types, bytes(data)), strict=True)
        )
        for (name, read), topic in zip(event.indexed, topics[1:], strict=True):
            values[name] = read(bytes(topic))
        return event.name, {i["name"]: jsonable(values[i["name"]], i) for i in event.inputs}


class _Event:
    """One event's decoding plan: the ABI types of its data, a reader for each topic."""

    def __init__(self, name: str, inputs: list[dict[str, Any]]) -> None:
        self.name = name
        self.inputs = inputs
        plain = [i for i in inputs if not i.get("indexed")]
        self.plain_names = [i["name"] for i in plain]
        self.plain_types = [canonical_type(i) for i in plain]
        indexed = [i for i in inputs if i.get("indexed")]
        self.indexed = [(i["name"], _topic_reader(canonical_type(i))) for i in indexed]


_ADDRESS_PADDING = bytes(12)


def _topic_reader(kind: str) -> Callable[[bytes], Any]:
    """How to read an indexed value of ABI type ``kind`` from its 32-byte topic.

    The fast paths give exactly eth_abi's value for a well-formed word; any other word goes to
    eth_abi, which refuses it as it always did."""

    def by_eth_abi(topic: bytes) -> Any:
        return abi_decode([kind], topic)[0]

    if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("):
        return lambda topic: topic  # an indexed dynamic value is only present as its hash
    if kind == "bytes32":
        return lambda topic: topic
    if kind == "address":  # lowercase, as jsonable would make eth_abi's checksummed form
        return lambda topic: (
            "0x" + topic[12:].hex() if topic[:12] == _ADDRESS_PADDING else by_eth_abi(topic)
        )
    if kind.startswith("uint") and kind[4:].isdigit():
        bits = int(kind[4:])
        return lambda topic: (
            value if (value := int.from_bytes(topic, "big")) >> bits == 0 else by_eth_abi(topic)
        )
    return by_eth_abi


def jsonable(value: Any, param: dict[str, Any]) -> Any:
    """An ABI value as JSON, by its ABI type: bytes and addresses as lowercase 0x-hex, integers
    and strings as they are, structs as objects (by component name), arrays as lists."""
    kind: str = param["type"]
    if kind.endswith("]"):
        element = {**param, "type": kind[: kind.rindex("[")]}
        return [jsonable(item, element) for item in value]
    if kind == "tuple":
        parts = param["components"]
        if isinstance(value, tuple | list):  # eth_abi gives structs as tuples
            return {c["name"]: jsonable(v, c) for c, v in zip(parts, value, strict=True)}
        return {c["name"]: jsonable(value[c["name"]], c) for c in parts}
    if kind == "address":
        return str(value).lower()
    if kind.startswith("bytes"):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool | int | str):
        return value
    raise InvalidInputError(f"cannot store an event argument of type {kind}")
