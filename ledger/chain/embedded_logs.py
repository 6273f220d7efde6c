"""The embedded chain's log table: ``eth_getLogs`` from SQL rows, not from decoded blocks.

eth-tester answers ``eth_getLogs`` by decoding every block and every receipt of the range
(milliseconds a block), so on a chain of 100,000 one-transaction blocks an indexer that asks
for all of its contracts' logs spends minutes per pass. Here each canonical block's logs become
rows of a ``logs`` table in the chain's own SQLite file, written by the same commit as the block
(:meth:`SQLiteKeyValueStore.flush` side writes): the table holds exactly the logs of the blocks
on disk, through a crash. A query is an indexed range scan, with indexes on the four topic
positions for the lookups that span the whole chain (by dataset, department, content hash).

Matching follows geth, which for non-empty filters is also what eth-tester does: a log matches
if its address is one of the filter's (if any are given) and, for each position ``i`` of the
filter's topics, the log has a topic ``i`` that is one of the alternatives given there (``None``
or an empty list: any). A log with fewer topics than the filter has positions never matches.
Unlike eth-tester, an empty address list means "any address", as it does on geth and anvil.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from eth.abc import BlockAPI, ChainDatabaseAPI

from ledger.chain.embedded_store import SideWrite, SQLiteKeyValueStore

#: Topics a log can have (LOG0 … LOG4).
MAX_TOPICS: Final = 4

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS logs (
        block_number INTEGER NOT NULL,
        tx_index INTEGER NOT NULL,
        log_index INTEGER NOT NULL,
        block_hash BLOB NOT NULL,
        tx_hash BLOB NOT NULL,
        address BLOB NOT NULL,
        topic_count INTEGER NOT NULL,
        topic0 BLOB, topic1 BLOB, topic2 BLOB, topic3 BLOB,
        data BLOB NOT NULL,
        PRIMARY KEY (block_number, tx_index, log_index)
    ) WITHOUT ROWID""",
    *(
        f"CREATE INDEX IF NOT EXISTS logs_topic{i} ON logs (topic{i}, block_number)"
        f" WHERE topic{i} IS NOT NULL"
        for i in range(MAX_TOPICS)
    ),
)
_INSERT: Final = "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_COLUMNS: Final = (
    "block_number, tx_index, log_index, block_hash, tx_hash, address, topic_count,"
    " topic0, topic1, topic2, topic3, data"
)

#: A filter's addresses as eth-tester normalises them: one 20-byte address, several, or None.
Addresses = bytes | tuple[bytes, ...] | None
#: A filter's topics as eth-tester normalises them: per position None (any), a 32-byte topic,
#: or a tuple of alternatives (which may hold None).
Topics = tuple[bytes | tuple[bytes | None, ...] | None, ...] | None


class LogTable:
    """The ``logs`` table of one embedded chain's database."""

    def __init__(self, store: SQLiteKeyValueStore):
        self._store = store
        store.create_schema(_SCHEMA)

    @staticmethod
    def rows_of(block: BlockAPI, chaindb: ChainDatabaseAPI) -> list[tuple[Any, ...]]:
        """The table rows of ``block``'s logs, in block order."""
        rows: list[tuple[Any, ...]] = []
        receipts = block.get_receipts(chaindb)
        for tx_index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
            for log_index, log in enumerate(receipt.logs):
                topics: list[bytes | None] = [t.to_bytes(32, "big") for t in log.topics]
                padded = topics + [None] * (MAX_TOPICS - len(topics))
                rows.append(
                    (
                        block.number,
                        tx_index,
                        log_index,
                        block.hash,
                        tx.hash,
                        log.address,
                        len(topics),
                        *padded,
                        log.data,
                    )
                )
        return rows

    @staticmethod
    def write(rows: Sequence[Sequence[Any]]) -> SideWrite:
        """The side write that stores ``rows`` (from :meth:`rows_of`) with the next flush."""
        return (_INSERT, rows)

    def query(
        self,
        first: int,
        last: int,
        addresses: Addresses,
        topics: Topics,
        *,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Logs of blocks ``first..last`` matching the filter, in (block, transaction, log)
        order, as eth-tester's backend serialises a mined log (bytes, not yet hex); at most
        ``limit`` of them (the first ones) when a limit is given."""
        where = ["block_number BETWEEN ? AND ?"]
        params: list[Any] = [first, last]
        wanted = (addresses,) if isinstance(addresses, bytes) else addresses or ()
        if wanted:
            where.append(f"address IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        if topics:
            if len(topics) > MAX_TOPICS:
                return []  # no log has that many topics
            where.append("topic_count >= ?")
            params.append(len(topics))
            for position, spec in enumerate(topics):
                options = spec if isinstance(spec, tuple) else (spec,)
                if not options or None in options:
                    continue  # any topic at this position
                where.append(f"topic{position} IN ({', '.join('?' * len(options))})")
                params.extend(options)
        sql = f"SELECT {_COLUMNS} FROM logs WHERE {' AND '.join(where)} ORDER BY 1, 2, 3"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            {
                "type": "mined",
                "log_index": log_index,
                "transaction_index": tx_index,
                "transaction_hash": tx_hash,
                "block_hash": block_hash,
                "block_number": number,
                "address": address,
                "data": data,
                "topics": tuple(t for t in (t0, t1, t2, t3)[:count]),
            }
            for (
                number,
                tx_index,
                log_index,
                block_hash,
                tx_hash,
                address,
                count,
                t0,
                t1,
                t2,
                t3,
                data,
            ) in self._store.select(sql, params)
        ]


__all__ = ["MAX_TOPICS", "Addresses", "LogTable", "Topics"]
