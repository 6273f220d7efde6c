"""The embedded chain: py-evm in process (eth-tester's ``PyEVMBackend``), durable in SQLite.

:meth:`EmbeddedChain.open` gives a :class:`~ledger.chain.backend.Chain` that needs no node: the
first start writes a genesis block (Prague rules, post-merge, chain id
:data:`EMBEDDED_CHAIN_ID`) into ``<data_dir>/chain.sqlite3``; every later start re-opens the
chain at the canonical head stored there.

Durability: py-evm writes into :class:`SQLiteKeyValueStore`, which keeps the writes in memory and
commits them in one SQLite transaction after each mined block. Auto-mine puts every transaction
in a block of its own, and the commit happens inside ``eth_sendRawTransaction``, before it
returns the hash. So a transaction whose hash (or receipt) a caller has seen is on disk, and a
crash (``kill -9``, power loss with ``synchronous=FULL``) loses at most the block being mined,
which nobody was told about. SQLite's WAL makes each commit all-or-nothing.

Logs: the same commit writes each block's logs into a table of the same file
(:mod:`ledger.chain.embedded_logs`), and ``eth_getLogs`` is answered from it, so log queries stay
fast however long the chain grows and never disagree with the blocks on disk.

Threads: one re-entrant lock serialises every JSON-RPC request and every direct eth-tester call
the :class:`Chain` makes (funding, time travel, snapshots), so relayer, indexer and request
handlers may share one instance. py-evm itself is not thread-safe.
"""

from __future__ import annotations

import functools
import inspect
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, cast

from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI, StateAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.db.cache import CacheDB
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.exceptions import HeaderNotFound
from eth.exceptions import TransactionNotFound as EVMTransactionNotFound
from eth.typing import AccountState
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.state import PragueTransactionExecutor
from eth.vm.spoof import SpoofTransaction
from eth_keys.datatypes import PrivateKey
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import BlockNotFound, TransactionNotFound
from eth_tester.exceptions import ValidationError as FilterValidationError
from eth_typing import BlockNumber, ChecksumAddress, Hash32
from eth_utils.address import to_canonical_address
from eth_utils.exceptions import ValidationError
from web3 import EthereumTesterProvider, Web3
from web3.providers.eth_tester.defaults import API_ENDPOINTS, static_return
from web3.types import RPCEndpoint, RPCResponse

from ledger.chain.backend import Chain
from ledger.chain.embedded_logs import LogTable
from ledger.chain.embedded_store import SQLiteKeyValueStore, Synchronous
from ledger.closing import ClosesOnExit
from ledger.errors import ChainMismatchError, ChainUnavailableError

#: Chain id of every embedded chain: "prov" in ASCII. Not 1337/31337, so an EIP-712 signature
#: made for a throwaway dev node (whose domain binds its chain id) never verifies here.
EMBEDDED_CHAIN_ID: Final = 0x70726F76

#: The faucet's genesis balance; it pays for relayer and department accounts via Chain.fund.
FAUCET_BALANCE: Final = 10**27

#: File name of the chain database inside the data directory.
DB_FILE_NAME: Final = "chain.sqlite3"

# Our own keys in the key-value store. py-evm's keys are 32-byte hashes or b"v1:..." schema
# keys, so these cannot collide. All are written in the genesis commit: the chain-id key's
# presence means "genesis is complete". The log table holds the logs of blocks 1 up to the
# logs-through block; a chain written before the table existed lacks the key.
_CHAIN_ID_KEY: Final = b"provledger:chain-id"
_FAUCET_KEY: Final = b"provledger:faucet-key"
_LOGS_THROUGH_KEY: Final = b"provledger:logs-through"
#: Blocks whose logs are gathered into one commit when a chain catches its log table up.
_CATCH_UP_BLOCKS: Final = 1_000

#: Genesis balances: address (hex, checksummed or not) -> wei.
GenesisAccounts = Mapping[ChecksumAddress, int] | Mapping[str, int]


def estimate_gas(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """Gas for ``transaction`` in two EVM runs instead of the ~12 of py-evm's binary search.

    Run once at the block gas limit to learn the peak gas it consumes, then confirm that
    ``(peak + 2300) * 64 / 63`` suffices (EIP-150 forwards at most 63/64 of the remaining gas to
    a call, so a transaction that makes calls can need a little more than it used; geth's
    estimator starts from the same bound). Only if that fails, fall back to the binary search.
    """
    snapshot = state.snapshot()
    try:
        probe = SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0)
        computation = state.apply_transaction(cast(SignedTransactionAPI, probe))
    finally:
        state.revert(snapshot)
    if computation.is_error:
        raise computation.error
    peak = transaction.intrinsic_gas + computation.get_gas_used()
    # Never below the EIP-7623 calldata floor: py-evm would mine such a transaction anyway and
    # charge more than its limit, where a real node refuses it.
    floor = PragueTransactionExecutor.calc_data_floor_gas(transaction, 0, 0)
    candidate = min(state.gas_limit, max(floor, (peak + 2300) * 64 // 63))
    snapshot = state.snapshot()
    try:
        check = SpoofTransaction(transaction, gas=candidate)
        if not state.apply_transaction(cast(SignedTransactionAPI, check)).is_error:
            return candidate
    except ValidationError:
        pass  # e.g. below an EIP-7623 calldata floor: let the exhaustive search decide
    finally:
        state.revert(snapshot)
    return cast(int, binary_gas_search_intrinsic_tolerance(state, transaction))


class _EmbeddedPosChain(MiningChain):
    """eth-tester's post-merge Prague chain, with a fixed chain id and a faster gas estimator."""

    chain_id = EMBEDDED_CHAIN_ID
    vm_configuration = ((BlockNumber(0), PragueVM),)
    gas_estimator = staticmethod(estimate_gas)

    def create_header_from_parent(
        self, parent_header: BlockHeaderAPI, **header_params: Any
    ) -> BlockHeaderAPI:
        # A constant gas limit, as eth-tester's chain has: nobody votes it up or down here.
        header_params["gas_limit"] = parent_header.gas_limit
        return super().create_header_from_parent(parent_header, **header_params)

    def get_transaction_builder(self) -> Any:
        # eth-tester's backend calls this; MiningChain only has it on the VM.
        return self.get_vm().get_transaction_builder()


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return locked


class _DurableBackend(PyEVMBackend):  # type: ignore[misc]  # eth-tester is untyped
    """``PyEVMBackend`` over a chain we built, committing the store, and the block's logs into
    the log table, after every mined block."""

    def __init__(
        self,
        store: SQLiteKeyValueStore,
        chain: _EmbeddedPosChain,
        faucet: PrivateKey,
        lock: threading.RLock,
    ):
        # Not super().__init__(): it would build and discard a fresh in-memory genesis chain.
        self.chain = chain
        self.account_keys = (faucet,)
        self.lock = lock
        self.logs = LogTable(store)
        self._store = store

    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("a durable chain is never reset to genesis")

    def revert_to_snapshot(self, snapshot: Any) -> None:
        raise NotImplementedError("a durable chain never rewinds: that would drop records")

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\0" * 20) -> tuple[bytes, ...]:
        hashes = cast(tuple[bytes, ...], super().mine_blocks(num_blocks, coinbase))
        self.commit()  # before the send that mined it returns: acknowledged = durable
        return hashes

    def commit(self, *, max_blocks: int | None = None) -> bool:
        """Commit the buffered writes with the logs of the canonical blocks the log table lacks
        (at most ``max_blocks`` of them); whether the table now reaches the head.

        Every mined block passes through here, so the table lacks blocks only on a chain
        written before it existed; :meth:`EmbeddedChain.open` catches those up.
        """
        try:
            through = int.from_bytes(self._store[_LOGS_THROUGH_KEY], "big")
        except KeyError:
            through = 0  # genesis has no logs
        head = int(self.chain.get_canonical_head().block_number)
        last = head if max_blocks is None else min(head, through + max_blocks)
        rows: list[tuple[Any, ...]] = []
        for number in range(through + 1, last + 1):
            block = self.chain.get_canonical_block_by_number(BlockNumber(number))
            rows += LogTable.rows_of(block, self.chain.chaindb)
        if last > through or through == 0:
            self._store[_LOGS_THROUGH_KEY] = last.to_bytes(8, "big")
        self._store.flush([LogTable.write(rows)])
        return last == head

    # Transactions enter the pending block here. Its timestamp was fixed when the previous block
    # was mined, possibly long ago; move it to now, before the EVM reads it, never backwards.
    def _refresh_timestamp(self) -> None:
        if self.chain.header.gas_used == 0:
            now = int(time.time())
            if now > self.chain.header.timestamp:
                self.chain.set_header_timestamp(now)

    def send_raw_transaction(self, raw_transaction: bytes) -> bytes:
        # py-evm never compares a transaction's chain id with the chain's: without this check a
        # transaction signed for another chain (a dev node, say) would be replayable here.
        try:
            tx = self.chain.get_vm().get_transaction_builder().decode(raw_transaction)
        except Exception:
            tx = None  # malformed, or a blob transaction: upstream decodes and reports it
        if tx is not None and tx.chain_id != self.chain.chain_id:
            raise ChainMismatchError(
                f"transaction is for chain id {tx.chain_id}, this is chain {self.chain.chain_id}"
            )
        self._refresh_timestamp()
        return cast(bytes, super().send_raw_transaction(raw_transaction))

    def send_signed_transaction(
        self, signed_transaction: Any, block_number: Any = "latest"
    ) -> bytes:
        self._refresh_timestamp()
        return cast(bytes, super().send_signed_transaction(signed_transaction, block_number))

    def send_transaction(self, transaction: Any) -> bytes:
        self._refresh_timestamp()
        return cast(bytes, super().send_transaction(transaction))

    @_serialised
    def time_travel(self, to_timestamp: int) -> int:
        # Chain.advance_time calls the backend directly, outside the tester's lock.
        return cast(int, super().time_travel(to_timestamp))

    # eth-tester finds a transaction by scanning every block from the head down: fine for a
    # test chain, O(chain length) here. py-evm keeps a hash -> (block, index) lookup; use it.
    def _locate(self, tx_hash: bytes) -> tuple[BlockAPI, SignedTransactionAPI, int]:
        try:
            number, index = self.chain.chaindb.get_transaction_index(Hash32(tx_hash))
        except EVMTransactionNotFound:
            pending = self.chain.get_block()  # a transaction not yet mined (log filters ask)
            for index, tx in enumerate(pending.transactions):
                if tx.hash == tx_hash:
                    return pending, tx, index
            raise TransactionNotFound(f"no transaction {tx_hash.hex()}") from None
        block = self.chain.get_canonical_block_by_number(number)
        return block, block.transactions[index], index

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, tx, index = self._locate(transaction_hash)
        is_pending = block.number == self.chain.header.block_number
        return serialize_transaction(block, tx, index, is_pending)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, tx, index = self._locate(transaction_hash)
        is_pending = block.number == self.chain.header.block_number
        receipts = block.get_receipts(self.chain.chaindb)
        return serialize_transaction_receipt(
            block, receipts, tx, index, is_pending, self.chain.get_vm()
        )


class _SerialisedTester(EthereumTester):  # type: ignore[misc]  # eth-tester is untyped
    """An ``EthereumTester`` whose public methods all run under one re-entrant lock, so a
    send's apply-then-mine is never interleaved with another thread's."""

    def __init__(self, backend: _DurableBackend):
        super().__init__(backend=backend, auto_mine_transactions=True)
        self.lock = backend.lock
        self.backend: _DurableBackend

    def get_logs(
        self,
        from_block: Any = None,
        to_block: Any = None,
        address: Any = None,
        topics: Any = None,
        block_hash: Any = None,
    ) -> tuple[Any, ...]:
        """Logs matching the filter, read from the log table in the shape eth-tester gives.

        ``block_hash`` (JSON-RPC's ``blockHash``, EIP-234) asks for the logs of one canonical
        block instead of a range; an unknown or non-canonical hash raises ``BlockNotFound``.

        Upstream decodes every block and receipt of the range (milliseconds a block: minutes
        over a 100,000-block chain). Semantics differ from upstream's where upstream's are not
        JSON-RPC's: "earliest" is block 0 (upstream matches only pending logs with it), a range
        past the head ends at the head (upstream fails), and an empty address list or topic
        alternative list matches anything (upstream: nothing), as on geth and anvil; and each
        log carries ``removed: false``, as a node's do.
        """
        if isinstance(address, list | tuple) and not address:
            address = None  # upstream refuses an empty list; nodes take it as "any address"
        if block_hash is not None:
            if from_block is not None or to_block is not None:
                raise FilterValidationError("blockHash excludes fromBlock and toBlock")
            from_block = to_block = self._canonical_number(block_hash)
        self.validator.validate_inbound_filter_params(
            from_block=from_block, to_block=to_block, address=address, topics=topics
        )
        _, _, addresses, topic_specs = self.normalizer.normalize_inbound_filter_params(
            from_block=from_block, to_block=to_block, address=address, topics=topics
        )
        head = int(self.backend.chain.get_canonical_head().block_number)
        first = self._block_number(from_block, head)
        last = min(self._block_number(to_block, head), head)
        if first > last:
            return ()
        entries = self.backend.logs.query(first, last, addresses, topic_specs)
        # "removed": nodes send it with every log; this chain never reorgs, so always false.
        return tuple(
            {**self.normalizer.normalize_outbound_log_entry(e), "removed": False} for e in entries
        )

    def _canonical_number(self, block_hash: Any) -> int:
        self.validator.validate_inbound_block_hash(block_hash)
        raw = Hash32(self.normalizer.normalize_inbound_block_hash(block_hash))
        chaindb = self.backend.chain.chaindb
        try:
            number = chaindb.get_block_header_by_hash(raw).block_number
            if chaindb.get_canonical_block_hash(number) == raw:
                return int(number)
        except HeaderNotFound:
            pass
        raise BlockNotFound(f"no canonical block {block_hash}")

    @staticmethod
    def _block_number(block: Any, head: int) -> int:
        if isinstance(block, int):
            return block
        return {"earliest": 0, "pending": head + 1}.get(block, head)  # None, latest, safe…


# Wrap every public method, ours (get_logs) and inherited, in the lock.
for _name, _member in list(vars(EthereumTester).items()):
    if inspect.isfunction(_member) and not _name.startswith("_"):
        setattr(_SerialisedTester, _name, _serialised(getattr(_SerialisedTester, _name)))


def _get_logs(tester: _SerialisedTester, params: Any) -> tuple[Any, ...]:
    """``eth_getLogs``: web3's request formatting leaves a filter's ``blockHash`` key as is."""
    query = dict(params[0])
    if "blockHash" in query:
        query["block_hash"] = query.pop("blockHash")
    return tester.get_logs(**query)


class _SerialisedProvider(EthereumTesterProvider):
    """web3's in-process provider, one request at a time, reporting the embedded chain id."""

    def __init__(self, tester: _SerialisedTester):
        endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
        endpoints["eth"]["chainId"] = static_return(EMBEDDED_CHAIN_ID)  # upstream: a constant
        endpoints["net"]["version"] = static_return(str(EMBEDDED_CHAIN_ID))
        endpoints["eth"]["getLogs"] = _get_logs  # upstream drops a filter's blockHash
        super().__init__(tester, api_endpoints=endpoints)
        self._lock: threading.RLock = tester.lock
        self._store = tester.backend._store

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._lock:
            if self._store.closed:  # py-evm's caches would otherwise answer some reads
                raise ChainUnavailableError("the embedded chain is closed")
            return super().make_request(method, params)


def _open_or_create(
    store: SQLiteKeyValueStore, genesis_accounts: GenesisAccounts
) -> tuple[_EmbeddedPosChain, PrivateKey]:
    # py-evm re-reads the top trie nodes for every block; a bounded LRU (entries, ~10 MB at most
    # for trie nodes) keeps them in memory. CacheDB drops deleted keys, so it never goes stale.
    base_db = AtomicDB(CacheDB(store, cache_size=16384))
    try:
        stored_id = int.from_bytes(store[_CHAIN_ID_KEY], "big")
    except KeyError:
        pass
    else:
        if stored_id != EMBEDDED_CHAIN_ID:
            raise ChainMismatchError(
                f"the data directory holds chain {stored_id}, expected {EMBEDDED_CHAIN_ID}"
            )
        # MiningChain starts its pending block on the canonical head stored in the database.
        return _EmbeddedPosChain(base_db), PrivateKey(store[_FAUCET_KEY])

    faucet = PrivateKey(secrets.token_bytes(32))
    balances: dict[str, int] = {faucet.public_key.to_checksum_address(): FAUCET_BALANCE}
    balances.update(genesis_accounts.items())
    state: AccountState = {
        to_canonical_address(address): {"balance": wei, "nonce": 0, "code": b"", "storage": {}}
        for address, wei in balances.items()
    }
    params = PyEVMBackend.generate_genesis_params()  # eth-tester's post-merge defaults, now
    chain = cast(_EmbeddedPosChain, _EmbeddedPosChain.from_genesis(base_db, params, state))
    store[_CHAIN_ID_KEY] = EMBEDDED_CHAIN_ID.to_bytes(8, "big")
    store[_FAUCET_KEY] = faucet.to_bytes()
    store[_LOGS_THROUGH_KEY] = (0).to_bytes(8, "big")
    store.flush()  # genesis, faucet and the chain-id marker in one commit
    return chain, faucet


class EmbeddedChain(Chain, ClosesOnExit):
    """A :class:`Chain` on the durable in-process py-evm chain of one data directory.

    Open with :meth:`open`, close with :meth:`close` (or use it as a context manager). Safe to
    share between threads. Snapshots can be taken but never reverted, and the chain is never
    reset: both would drop acknowledged records.
    """

    def __init__(self, w3: Web3, *, tester: _SerialisedTester, store: SQLiteKeyValueStore):
        super().__init__(w3, tester=tester, expected_chain_id=EMBEDDED_CHAIN_ID)
        self._store = store
        self._lock: threading.RLock = tester.lock
        self.faucet_address: str = tester.get_accounts()[0]

    def _ensure_open(self) -> None:
        if self._store.closed:
            raise ChainUnavailableError("the embedded chain is closed")

    @property
    def log_table(self) -> LogTable:
        """The log table of this chain's database (read it under :attr:`evm_lock`)."""
        tester = cast(_SerialisedTester, self._tester)
        return tester.backend.logs

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        genesis_accounts: GenesisAccounts | None = None,
        synchronous: Synchronous = "FULL",
    ) -> EmbeddedChain:
        """Open the chain in ``data_dir`` (created if missing), writing genesis on first use.

        ``genesis_accounts`` (address -> wei) are funded in the genesis block, next to a faucet
        key generated here and kept in the database (:meth:`Chain.fund` spends from it); they
        are ignored when the chain already exists. Raises :class:`ChainUnavailableError` if
        another process has the directory open.
        """
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (data_dir / DB_FILE_NAME).touch(mode=0o600)  # it holds the faucet key; WAL inherits
        try:
            store = SQLiteKeyValueStore(data_dir / DB_FILE_NAME, synchronous=synchronous)
        except sqlite3.OperationalError as exc:
            reason = (
                "it is in use by another process (is `provledger serve` running?)"
                if "locked" in str(exc)
                else str(exc)
            )
            raise ChainUnavailableError(f"cannot open the chain in {data_dir}: {reason}") from exc
        try:
            chain, faucet = _open_or_create(store, genesis_accounts or {})
            backend = _DurableBackend(store, chain, faucet, threading.RLock())
            while not backend.commit(max_blocks=_CATCH_UP_BLOCKS):
                pass  # a chain from before the log table: fill it, a commit per chunk
            tester = _SerialisedTester(backend)
            return cls(Web3(_SerialisedProvider(tester)), tester=tester, store=store)
        except BaseException:
            store.close(flush=False)  # a half-written genesis lacks its marker: redone next time
            raise

    def close(self) -> None:
        """Flush and close the database; the chain is unusable afterwards."""
        with self._lock:
            self._store.close()


__all__ = [
    "DB_FILE_NAME",
    "EMBEDDED_CHAIN_ID",
    "FAUCET_BALANCE",
    "EmbeddedChain",
    "GenesisAccounts",
    "SQLiteKeyValueStore",
    "Synchronous",
    "estimate_gas",
]
