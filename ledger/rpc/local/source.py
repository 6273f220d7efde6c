"""Reading an in-process py-evm chain directly: blocks by reference, state at a block, raw keys.

Every method but :meth:`EvmSource.read_node` expects the caller to hold :meth:`EvmSource.locked`
(py-evm is not thread-safe, and the embedded chain's relayer writes through the same objects).
Block references resolve as a single-authority chain with instant finality should: ``safe``,
``finalized`` and ``pending`` are the head (blocks are mined as transactions arrive, so there
is no pending block with anything in it), ``earliest`` is block 0.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

import rlp  # type: ignore[import-untyped]
from eth.exceptions import BlockNotFound, HeaderNotFound, TransactionNotFound

from ledger.errors import RpcExecutionError
from ledger.rpc.params import BlockRef

if TYPE_CHECKING:
    from ledger.chain.backend import Chain
    from ledger.chain.embedded_logs import LogTable

#: Length of the keys a call worker may ask for: hashes (trie nodes, code, headers by hash).
NODE_KEY_LENGTH: Final = 32
#: Block timestamps remembered by block hash (a hash's timestamp never changes).
_TIMESTAMPS_KEPT: Final = 100_000
#: Position of the timestamp in a header's RLP list (every fork's header starts the same way).
_TIMESTAMP_FIELD: Final = 11


class EvmSource:
    """One in-process py-evm chain, read under the lock its writers hold."""

    def __init__(
        self,
        chain: Any,
        lock: AbstractContextManager[Any],
        *,
        log_table: LogTable | None = None,
    ) -> None:
        self.chain = chain
        self._lock = lock
        self.log_table = log_table
        self.chain_id: int = int(chain.chain_id)
        self._timestamps: dict[bytes, int] = {}

    @classmethod
    def of(cls, chain: Chain) -> EvmSource | None:
        """The source behind ``chain``, or None if it is a JSON-RPC node."""
        if chain.py_evm is None:
            return None
        return cls(chain.py_evm, chain.evm_lock, log_table=chain.log_table)

    def locked(self) -> AbstractContextManager[Any]:
        return self._lock

    # --- blocks (hold the lock) ---------------------------------------------------------------

    def head(self) -> Any:
        return self.chain.get_canonical_head()

    def find_header(self, ref: BlockRef) -> Any | None:
        """The header ``ref`` names, or None if there is no such block."""
        chaindb = self.chain.chaindb
        if ref.hash is not None:
            try:
                header = chaindb.get_block_header_by_hash(ref.hash)
            except (HeaderNotFound, BlockNotFound):
                return None
            if ref.require_canonical and not self._is_canonical(header):
                raise RpcExecutionError(f"hash 0x{ref.hash.hex()} is not currently canonical")
            return header
        if ref.number is None:
            return self.head() if ref.tag != "earliest" else self._by_number(0)
        return self._by_number(ref.number)

    def header(self, ref: BlockRef) -> Any:
        """The header ``ref`` names; unknown blocks are geth's ``header not found`` error."""
        header = self.find_header(ref)
        if header is None:
            raise RpcExecutionError("header not found")
        return header

    def _by_number(self, number: int) -> Any | None:
        try:
            return self.chain.chaindb.get_canonical_block_header_by_number(number)
        except (HeaderNotFound, BlockNotFound):
            return None

    def _is_canonical(self, header: Any) -> bool:
        try:
            canonical = self.chain.chaindb.get_canonical_block_hash(header.block_number)
        except (HeaderNotFound, BlockNotFound):
            return False
        return bool(canonical == header.hash)

    def timestamp(self, block_hash: bytes) -> int:
        """The timestamp of a stored block, read from its header's RLP without decoding the
        whole header (logs need one per block, and a full decode is 90% of an answer's time)."""
        found = self._timestamps.get(block_hash)
        if found is None:
            fields = rlp.decode(self.node(block_hash))
            found = int.from_bytes(fields[_TIMESTAMP_FIELD], "big")
            if len(self._timestamps) >= _TIMESTAMPS_KEPT:
                self._timestamps.clear()
            self._timestamps[block_hash] = found
        return found

    def block_of(self, header: Any) -> Any:
        return self.chain.get_block_by_header(header)

    def receipts_of(self, block: Any) -> tuple[Any, ...]:
        return tuple(block.get_receipts(self.chain.chaindb))

    def find_transaction(self, tx_hash: bytes) -> tuple[Any, int] | None:
        """The canonical block holding ``tx_hash`` and its index there, or None."""
        try:
            number, index = self.chain.chaindb.get_transaction_index(tx_hash)
        except TransactionNotFound:
            return None
        header = self._by_number(number)
        if header is None:
            return None
        block = self.block_of(header)
        # The lookup survives a rewound (snapshot-reverted) chain; trust it only if it agrees.
        if index >= len(block.transactions) or block.transactions[index].hash != tx_hash:
            return None
        return block, index

    # --- state (hold the lock) ----------------------------------------------------------------

    def vm_class(self, header: Any) -> Any:
        return self.chain.get_vm_class(header)

    def account_db(self, header: Any) -> Any:
        """The accounts as they were after ``header``'s block."""
        state_class = self.vm_class(header).get_state_class()
        return state_class.get_account_db_class()(self.chain.chaindb.db, header.state_root)

    def node(self, key: bytes) -> bytes:
        """A raw database entry by hash (a trie node, code); KeyError if absent."""
        return bytes(self.chain.chaindb.db[key])

    # --- for call workers (takes the lock itself) ---------------------------------------------

    def read_node(self, key: bytes) -> bytes | None:
        """A content-addressed entry for a call worker: only 32-byte keys (trie nodes, code,
        headers by hash) are served, so a worker cannot read the chain's own bookkeeping (such
        as the embedded chain's faucet key) whatever code it runs."""
        if len(key) != NODE_KEY_LENGTH:
            return None
        with self._lock:
            try:
                return self.node(key)
            except KeyError:
                return None


__all__ = ["NODE_KEY_LENGTH", "EvmSource"]
