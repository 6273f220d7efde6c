"""The indexer: contract events from the chain into the SQL index, reorg-aware and rebuildable.

One pass (:meth:`Indexer.sync`) walks block ranges from the last indexed block to the chain
head. For each range it reads the contracts' logs (``eth_getLogs``: the four registries, and the
key directory where the deployment has one), the headers of the blocks holding them, and writes
events, block headers, projection changes and the new position in **one** database
transaction, so a crash leaves the index at a range boundary.

Reorgs. The index keeps the header of every block with events plus the last indexed block.
Before each range the stored hash of the last indexed block is compared with the chain's. On a
mismatch the stored blocks are walked newest first until one still matches (the *fork block*:
the newest block the index and the chain agree on); everything above it is deleted, the
projections are rebuilt from the remaining events if any were orphaned, and indexing resumes
after it. Blocks without events are not stored, so the true fork may lie anywhere between the
fork block and the first mismatching stored block; that is harmless, since the index holds
nothing from the blocks in between. While a range is read, the head of the range is fetched
before and after and the range's first block must link to the last indexed block, so a reorg
that happens *during* the read is retried instead of being half-indexed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import Connection, delete, exists, insert, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from web3.exceptions import BlockNotFound
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint

from ledger.artifacts import load_artifact
from ledger.chain.clients.base import ContractClient
from ledger.chain.deploy import Ledger
from ledger.errors import ChainError, ChainMismatchError, ChainUnavailableError, InvalidInputError
from ledger.index import projections
from ledger.index.models import BLOCKS, EVENTS, INDEX_TABLES, STATE, IndexState

logger = logging.getLogger(__name__)

_STATE_NAME = "ledger"
#: Headers asked for in one JSON-RPC batch request.
_HEADER_BATCH = 200
#: How often a range is re-read when the chain moves under it before giving up for this call.
_MAX_RETRIES = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Reorg:
    """A reorg found and undone by :meth:`Indexer.sync`."""

    detected_at: int  # the last indexed block, whose hash the chain no longer has
    fork_block: int  # newest indexed block still on the chain (start_block - 1 if none)
    depth: int  # blocks rolled back: detected_at - fork_block
    orphaned_events: int  # events deleted with the orphaned blocks


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncReport:
    """What one :meth:`Indexer.sync` call did."""

    from_block: int | None  # first block indexed by this call (None: nothing to do)
    to_block: int | None  # last block indexed by this call
    blocks: int
    events: int
    ranges: int
    head: int  # the chain head the call synced towards
    last_indexed_block: int | None
    lag: int  # head - last indexed block when the call ended
    reorgs: tuple[Reorg, ...] = ()


@dataclass(frozen=True, slots=True)
class _Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int

    @classmethod
    def of(cls, block: Any) -> _Header:
        return cls(
            number=int(block["number"]),
            hash=HexBytes(block["hash"]).to_0x_hex(),
            parent_hash=HexBytes(block["parentHash"]).to_0x_hex(),
            timestamp=int(block["timestamp"]),
        )


@dataclass(frozen=True, slots=True)
class _Log:
    """A contract log as the indexer needs it, whichever way it was read."""

    address: str  # lowercase
    topics: list[bytes]
    data: bytes
    block_number: int
    block_hash: str  # lowercase 0x hex
    log_index: int
    tx_hash: str
    tx_index: int

    @classmethod
    def of_json(cls, log: dict[str, Any]) -> _Log:
        """From a JSON-RPC answer: quantities and data as hex strings."""
        return cls(
            address=log["address"].lower(),
            topics=[bytes.fromhex(topic[2:]) for topic in log["topics"]],
            data=bytes.fromhex(log["data"][2:]),
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"].lower(),
            log_index=int(log["logIndex"], 16),
            tx_hash=log["transactionHash"].lower(),
            tx_index=int(log["transactionIndex"], 16),
        )

    @classmethod
    def of_web3(cls, log: Any) -> _Log:
        """From web3's formatted answer: ints, HexBytes, a checksummed address."""
        return cls(
            address=str(log["address"]).lower(),
            topics=[bytes(topic) for topic in log["topics"]],
            data=bytes(log["data"]),
            block_number=int(log["blockNumber"]),
            block_hash=HexBytes(log["blockHash"]).to_0x_hex(),
            log_index=int(log["logIndex"]),
            tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
            tx_index=int(log["transactionIndex"]),
        )


class _ChainMoved(Exception):
    """The chain (or another indexer) changed while a range was read; read it again."""


class Indexer:
    """Keeps the ``index_*`` tables of ``engine`` in step with ``ledger``'s contracts."""

    def __init__(self, *, ledger: Ledger, engine: Engine, batch_blocks: int = 2_000) -> None:
        if batch_blocks < 1:
            raise InvalidInputError(f"batch_blocks must be >= 1, got {batch_blocks}")
        self.ledger = ledger
        self.engine = engine
        self.batch_blocks = batch_blocks
        self._chain = ledger.chain
        self._w3 = ledger.chain.w3
        clients: tuple[ContractClient, ...] = (
            ledger.departments,
            ledger.datasets,
            ledger.access,
            ledger.anchors,
        )
        if ledger.deployment.key_directory is not None:  # absent from older deployments
            clients += (ledger.keys,)
        self._clients = {client.address.lower(): client for client in clients}
        self._addresses = [client.address for client in clients]
        self._batching = True  # until the provider says it cannot batch requests
        self._decoders = {
            client.address.lower(): projections.LogDecoder(load_artifact(client.artifact_name).abi)
            for client in clients
        }
        self._create_or_upgrade()

    def _create_or_upgrade(self) -> None:
        """Create the index tables; an index written by an older schema is dropped and rebuilt
        from the chain by the next sync. The index is a cache of the chain, so this is the whole
        of its migration story (the outbox and the service's own tables are not touched)."""
        existing = inspect(self.engine)
        stale = [
            table.name
            for table in INDEX_TABLES
            if existing.has_table(table.name)
            and {c["name"] for c in existing.get_columns(table.name)} != set(table.c.keys())
        ]
        with self.engine.begin() as conn:
            if stale:
                logger.warning(
                    "indexer: index schema changed (%s): rebuilding it", ", ".join(stale)
                )
                IndexState.metadata.drop_all(conn, tables=list(INDEX_TABLES))
            IndexState.metadata.create_all(conn, tables=list(INDEX_TABLES))
            # Batched records project from the service's queue (see anchored_records); an index
            # on its own (tests, a fresh reindex) finds it empty rather than missing.
            IndexState.metadata.create_all(conn, tables=[projections.QUEUED])

    # --- position ------------------------------------------------------------------------------

    def last_indexed_block(self) -> int | None:
        """The newest block the index is complete up to, or None before the first sync."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(STATE.c.last_block_number).where(STATE.c.name == _STATE_NAME)
            ).scalar()

    def lag(self) -> int:
        """Chain head minus the last indexed block (counting from the deployment if none)."""
        return max(self._head() - self._position(self.last_indexed_block()), 0)

    def _position(self, last: int | None) -> int:
        """The block the index is complete up to; the one before the deployment if none."""
        return self.ledger.deployment.start_block - 1 if last is None else last

    # --- syncing -------------------------------------------------------------------------------

    def sync(self, *, max_blocks: int | None = None) -> SyncReport:
        """Index from the last indexed block to the chain head (at most ``max_blocks`` blocks).

        Idempotent: a second call over an unchanged chain changes nothing.
        """
        head = self._head()
        reorgs: list[Reorg] = []
        first: int | None = None
        last: int | None = None
        blocks = events = ranges = retries = 0
        while max_blocks is None or blocks < max_blocks:
            state = self._state()
            try:
                reorg = self._undo_reorg(state)
                if reorg is not None:
                    reorgs.append(reorg)
                    raise _ChainMoved  # counted with the retries: a chain that never settles
                start = self._position(state.last_block_number) + 1
                if start > head:
                    break
                end = min(head, start + self.batch_blocks - 1)
                if max_blocks is not None:
                    end = min(end, start + max_blocks - blocks - 1)
                end, count = self._index_range(state, start, end)
            except _ChainMoved:
                retries += 1
                if retries > _MAX_RETRIES:
                    # e.g. a load balancer over nodes that disagree about the newest blocks
                    raise ChainError("the chain kept reorganising while being indexed") from None
                head = self._head()
                continue
            first = start if first is None else first
            last = end
            blocks += end - start + 1
            events += count
            ranges += 1
        indexed = self.last_indexed_block()
        return SyncReport(
            from_block=first,
            to_block=last,
            blocks=blocks,
            events=events,
            ranges=ranges,
            head=head,
            last_indexed_block=indexed,
            lag=max(head - self._position(indexed), 0),
            reorgs=tuple(reorgs),
        )

    def reindex(self) -> SyncReport:
        """Drop and recreate the index tables (only those) and index again from the start."""
        with self.engine.begin() as conn:
            IndexState.metadata.drop_all(conn, tables=list(INDEX_TABLES))
            IndexState.metadata.create_all(conn, tables=list(INDEX_TABLES))
        return self.sync()

    def run(self, stop: threading.Event, poll_interval: float = 0.5) -> None:
        """Sync until ``stop`` is set: a background thread's body.

        Node outages and refusals (``ChainError``) and database hiccups (``OperationalError``:
        a locked SQLite file, a dropped PostgreSQL connection) are logged and retried with
        backoff; they are expected in a long-running service and the next pass resumes from
        the last committed range. A wrong chain or deployment is not transient and ends the loop.
        """
        backoff = poll_interval
        while not stop.is_set():
            try:
                report = self.sync(max_blocks=self.batch_blocks)
            except ChainMismatchError:
                raise
            except (ChainError, OperationalError) as exc:
                level = logging.WARNING if isinstance(exc, ChainUnavailableError) else logging.ERROR
                logger.log(level, "indexer: %s; retrying in %.1fs", exc, backoff)
                stop.wait(backoff)
                backoff = min(max(backoff, 0.1) * 2, 30.0)
                continue
            backoff = poll_interval
            if report.lag == 0 or report.blocks == 0:
                stop.wait(poll_interval)  # caught up: poll; otherwise go on with the next batch

    # --- state ---------------------------------------------------------------------------------

    def _state(self) -> IndexState:
        """The state row, created on first use; refuses an index of another deployment."""
        d = self.ledger.deployment
        wanted: dict[str, Any] = {
            "chain_id": d.chain_id,
            "department_registry": d.department_registry.lower(),
            "dataset_registry": d.dataset_registry.lower(),
            "access_registry": d.access_registry.lower(),
            "anchor_registry": d.anchor_registry.lower(),
            "key_directory": None if d.key_directory is None else d.key_directory.lower(),
            "start_block": d.start_block,
        }
        with self.engine.begin() as conn:
            row = conn.execute(select(STATE).where(STATE.c.name == _STATE_NAME)).mappings().first()
            if row is None:
                conn.execute(insert(STATE).values(name=_STATE_NAME, **wanted))
                return IndexState(name=_STATE_NAME, **wanted)
        state = IndexState.model_validate(dict(row))
        if any(getattr(state, key) != value for key, value in wanted.items()):
            raise ChainMismatchError(
                "the index holds another deployment "
                f"(chain {state.chain_id}, department registry {state.department_registry}); "
                "reindex it or use another database"
            )
        return state

    @staticmethod
    def _claim(conn: Connection, state: IndexState) -> None:
        """Take the index's write lock and check nobody moved it since ``state`` was read.

        A no-op UPDATE of the state row locks it (a row lock on PostgreSQL, the database write
        lock on SQLite) and its row count says whether the position is still the one read, so
        two indexers sharing a database never apply the same range twice.
        """
        result = conn.execute(
            update(STATE)
            .where(
                STATE.c.name == _STATE_NAME,
                STATE.c.last_block_number.is_not_distinct_from(state.last_block_number),
                STATE.c.last_block_hash.is_not_distinct_from(state.last_block_hash),
            )
            .values(name=_STATE_NAME)
        )
        if result.rowcount != 1:
            raise _ChainMoved

    # --- reorgs --------------------------------------------------------------------------------

    def _undo_reorg(self, state: IndexState) -> Reorg | None:
        """If the last indexed block left the chain, roll the index back to the fork block."""
        last = state.last_block_number
        if last is None:
            return None
        header = self._header(last)
        if header is not None and header.hash == state.last_block_hash:
            return None
        fork, fork_hash = self._find_fork(last)
        with self.engine.begin() as conn:
            self._claim(conn, state)
            orphaned = conn.execute(delete(EVENTS).where(EVENTS.c.block_number > fork)).rowcount
            conn.execute(delete(BLOCKS).where(BLOCKS.c.number > fork))
            conn.execute(
                update(STATE)
                .where(STATE.c.name == _STATE_NAME)
                .values(
                    last_block_number=None if fork_hash is None else fork,
                    last_block_hash=fork_hash,
                )
            )
            if orphaned:
                projections.rebuild(conn)
        logger.warning(
            "indexer: reorg below block %d; rolled back to block %d (%d events orphaned)",
            last,
            fork,
            orphaned,
        )
        return Reorg(detected_at=last, fork_block=fork, depth=last - fork, orphaned_events=orphaned)

    def _find_fork(self, last: int) -> tuple[int, str | None]:
        """The newest stored block below ``last`` that the chain still has, with its hash."""
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(BLOCKS.c.number, BLOCKS.c.hash)
                .where(BLOCKS.c.number < last)
                .order_by(BLOCKS.c.number.desc())
            ).all()
        for number, block_hash in stored:
            header = self._header(number)
            if header is not None and header.hash == block_hash:
                return number, block_hash
        return self.ledger.deployment.start_block - 1, None

    # --- one range -----------------------------------------------------------------------------

    def _index_range(self, state: IndexState, start: int, end: int) -> tuple[int, int]:
        """Index blocks ``start..end`` (or a shorter prefix if the node refuses that many logs)
        in one transaction; the last block indexed and the number of new events.

        Raises ``_ChainMoved`` when what was read may mix two branches: a log whose block hash
        is not the header's, a first block that does not continue the indexed chain, or a last
        block whose hash changed while the range was read.
        """
        top, logs = self._get_logs(start, end)
        end = top.number
        numbers = {log.block_number for log in logs} - {end}
        if state.last_block_number is not None:
            numbers.add(start)  # to check that the range continues the indexed chain
        headers = {end: top, **self._headers(sorted(numbers))}
        rows: list[dict[str, Any]] = []
        for log in logs:
            header = headers[log.block_number]
            if log.block_hash != header.hash:
                raise _ChainMoved  # the logs and the headers come from different branches
            row = self._event_row(log, header)
            if row is not None:
                rows.append(row)
        last = state.last_block_number
        if last is not None and headers[start].parent_hash != state.last_block_hash:
            raise _ChainMoved  # the range does not continue the indexed chain
        again = self._header(end)
        if again is None or again.hash != top.hash:
            raise _ChainMoved  # a reorg happened while the range was read
        with self.engine.begin() as conn:
            self._claim(conn, state)
            added = self._write(conn, state, start, end, rows, headers)
        return end, added

    def _get_logs(self, start: int, end: int) -> tuple[_Header, list[_Log]]:
        """The header of the range's last block, read *before* the contracts' logs in
        ``start..end``: if that block is still the same once the whole range has been read,
        the logs cannot come from a branch that was replaced in between.

        Public nodes cap how many logs or blocks one call may cover; when refused, the range is
        halved until it is accepted (the header is then that of the shorter range's end)."""
        while True:
            top = self._header(end)
            if top is None:
                raise _ChainMoved  # the chain got shorter than the head we aimed for
            try:
                logs = self._chain.call(partial(self._fetch_logs, start, end))
            except ChainUnavailableError:
                raise
            except ChainError:
                if end == start:
                    raise
                end = start + (end - start) // 2
                continue
            return top, [log for log in logs if log.address in self._clients]

    def _fetch_logs(self, start: int, end: int) -> list[_Log]:
        """The contracts' logs in ``start..end`` (removed ones left out). Raw JSON-RPC
        where the provider speaks it: web3's formatting of a log cost several times its
        decoding, and was a third of a reindex (bench/indexer.py)."""
        provider = self._w3.provider
        if not isinstance(provider, JSONBaseProvider):  # in-process eth-tester
            params: Any = {"address": self._addresses, "fromBlock": start, "toBlock": end}
            logs = self._w3.eth.get_logs(params)
            return [_Log.of_web3(log) for log in logs if not log.get("removed", False)]
        query = {"address": self._addresses, "fromBlock": hex(start), "toBlock": hex(end)}
        response = provider.make_request(RPCEndpoint("eth_getLogs"), [query])
        if "error" in response:
            raise ChainError(f"the node refused the log query: {response['error']}")
        return [_Log.of_json(log) for log in response["result"] if not log.get("removed", False)]

    def _event_row(self, log: _Log, header: _Header) -> dict[str, Any] | None:
        decoded = self._decoders[log.address].decode(log.topics, log.data)
        if decoded is None:
            return None  # an event our ABI does not know: nothing to say about it
        name, args = decoded
        return {
            "block_hash": header.hash,
            "log_index": log.log_index,
            "block_number": header.number,
            "block_time": header.timestamp,
            "tx_hash": log.tx_hash,
            "tx_index": log.tx_index,
            "contract": self._clients[log.address].artifact_name,
            "address": log.address,
            "event": name,
            "args": args,
        }

    def _write(
        self,
        conn: Connection,
        state: IndexState,
        start: int,
        end: int,
        rows: list[dict[str, Any]],
        headers: dict[int, _Header],
    ) -> int:
        """Store one range: headers, new events, projection changes, position."""
        present = {
            (block_hash, log_index)
            for block_hash, log_index in conn.execute(
                select(EVENTS.c.block_hash, EVENTS.c.log_index).where(
                    EVENTS.c.block_number.between(start, end)
                )
            )
        }
        new = [r for r in rows if (r["block_hash"], r["log_index"]) not in present]
        stored = set(
            conn.execute(select(BLOCKS.c.number).where(BLOCKS.c.number.between(start, end)))
            .scalars()
            .all()
        )
        wanted = {r["block_number"] for r in rows} | {end}
        blocks = [
            {"number": n, "hash": h.hash, "parent_hash": h.parent_hash, "timestamp": h.timestamp}
            for n, h in sorted(headers.items())
            if n in wanted and n not in stored
        ]
        if blocks:
            conn.execute(insert(BLOCKS), blocks)
        if state.last_block_number is not None:
            # The previous head was kept only to detect reorgs; without events it is dropped so
            # the stored blocks do not depend on how the chain was cut into ranges.
            conn.execute(
                delete(BLOCKS).where(
                    BLOCKS.c.number == state.last_block_number,
                    ~exists().where(EVENTS.c.block_hash == BLOCKS.c.hash),
                )
            )
        if new:
            conn.execute(insert(EVENTS), new)
        for row in sorted(new, key=lambda r: (r["block_number"], r["log_index"])):
            projections.apply(conn, row)
        conn.execute(
            update(STATE)
            .where(STATE.c.name == _STATE_NAME)
            .values(last_block_number=end, last_block_hash=headers[end].hash)
        )
        return len(new)

    # --- chain reads ---------------------------------------------------------------------------

    def _head(self) -> int:
        return int(self._chain.call(lambda: self._w3.eth.block_number))

    def _header(self, number: int) -> _Header | None:
        """Block ``number`` of the node's current chain, or None if it has no such block."""

        def fetch() -> Any:
            try:
                return self._w3.eth.get_block(number)
            except BlockNotFound:
                return None

        block = self._chain.call(fetch)
        return None if block is None else _Header.of(block)

    def _headers(self, numbers: list[int]) -> dict[int, _Header]:
        """Headers of blocks ``numbers``, in JSON-RPC batches where the node takes them (one
        round trip per batch instead of per block: most of a sync's time otherwise).
        Raises ``_ChainMoved`` if the chain no longer has one of them."""
        found: dict[int, _Header] = {}
        pending = list(numbers)
        while pending and self._batching:
            chunk, pending = pending[:_HEADER_BATCH], pending[_HEADER_BATCH:]
            blocks = self._chain.call(partial(self._fetch_batch, chunk))
            if blocks is None:  # the provider cannot batch (in-process eth-tester)
                pending = chunk + pending
                break
            for number, block in zip(chunk, blocks, strict=True):
                if block is None:
                    raise _ChainMoved
                found[number] = block
        for number in pending:
            header = self._header(number)
            if header is None:
                raise _ChainMoved
            found[number] = header
        return found

    def _fetch_batch(self, numbers: list[int]) -> list[_Header | None] | None:
        """Headers of ``numbers`` in one raw JSON-RPC batch (None for a block the node lacks),
        or None if the provider cannot batch (remembered, so it is asked once). Raw, because
        web3's result formatting costs thirty times the node's answer."""
        batch = getattr(self._w3.provider, "make_batch_request", None)
        if batch is None:
            self._batching = False
            return None
        responses = batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        if not isinstance(responses, list):  # one error for the whole batch: no batching here
            logger.info("indexer: the node does not take batch requests: %s", responses)
            self._batching = False
            return None
        if errors := [r["error"] for r in responses if "error" in r]:
            raise ChainError(f"the node refused a block header: {errors[0]}")
        by_id = sorted(responses, key=lambda r: int(r["id"]))  # answers may come in any order
        return [
            None
            if (block := r.get("result")) is None
            else _Header(
                number=int(block["number"], 16),
                hash=block["hash"].lower(),
                parent_hash=block["parentHash"].lower(),
                timestamp=int(block["timestamp"], 16),
            )
            for r in by_id
        ]


__all__ = ["Indexer", "Reorg", "SyncReport"]
