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
from types import TracebackType
from typing import Any, Final, Literal, cast

import rlp  # type: ignore[import-untyped]  # pyrlp ships no type information
from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI, StateAPI
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB
from eth.db.cache import CacheDB
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.exceptions import TransactionNotFound as EVMTransactionNotFound
from eth.typing import AccountState
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.state import PragueTransactionExecutor
from eth.vm.spoof import SpoofTransaction
from eth_bloom.bloom import BloomFilter
from eth_keys.datatypes import PrivateKey
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import TransactionNotFound
from eth_typing import BlockNumber, ChecksumAddress, Hash32
from eth_utils.address import to_canonical_address
from eth_utils.exceptions import ValidationError
from web3 import EthereumTesterProvider, Web3
from web3.providers.eth_tester.defaults import API_ENDPOINTS, static_return
from web3.types import RPCEndpoint, RPCResponse

from ledger.chain.backend import Chain
from ledger.errors import ChainError, ChainMismatchError, ChainUnavailableError

#: Chain id of every embedded chain: "prov" in ASCII. Not 1337/31337, so an EIP-712 signature
#: made for a throwaway dev node (whose domain binds its chain id) never verifies here.
EMBEDDED_CHAIN_ID: Final = 0x70726F76

#: The faucet's genesis balance; it pays for relayer and department accounts via Chain.fund.
FAUCET_BALANCE: Final = 10**27

#: File name of the chain database inside the data directory.
DB_FILE_NAME: Final = "chain.sqlite3"

# Our own keys in the key-value store. py-evm's keys are 32-byte hashes or b"v1:..." schema
# keys, so these cannot collide. Both are written in the genesis commit: the chain-id key's
# presence means "genesis is complete".
_CHAIN_ID_KEY: Final = b"provledger:chain-id"
_FAUCET_KEY: Final = b"provledger:faucet-key"

Synchronous = Literal["FULL", "NORMAL"]
#: Genesis balances: address (hex, checksummed or not) -> wei.
GenesisAccounts = Mapping[ChecksumAddress, int] | Mapping[str, int]


class SQLiteKeyValueStore(BaseDB):
    """py-evm's key-value store over one SQLite file, committed once per :meth:`flush`.

    Writes go to an in-memory buffer that reads consult first; :meth:`flush` writes the buffer
    in one transaction. The file is opened in WAL mode with an exclusive lock held until
    :meth:`close`, so a second process cannot open the same chain and fork it.

    ``synchronous="FULL"`` (the default) fsyncs the WAL at every commit, so a commit survives
    power loss; ``"NORMAL"`` skips that fsync and survives only process crashes (``kill -9``),
    because a committed WAL frame is then still in the OS page cache. Not thread-safe: the
    embedded chain's lock serialises every use.
    """

    def __init__(self, path: Path, *, synchronous: Synchronous = "FULL", cache_mib: int = 64):
        # timeout=0: the only contender for the lock is another process opening the same chain,
        # and it should be told at once rather than after SQLite's default 5 s of retries.
        self._db = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        self._pending: dict[bytes, bytes | None] = {}  # None marks a delete
        self._failed: BaseException | None = None
        self.closed = False
        try:
            # Exclusive before WAL: then SQLite keeps the WAL index in heap memory (no -shm file)
            # and the lock, taken by the first write below, is held until close.
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.execute(f"PRAGMA cache_size=-{cache_mib * 1024}")
            self._db.execute("PRAGMA journal_size_limit=67108864")  # truncate a grown WAL
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
            )
            self._db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, not at block 1
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._db.close()
            raise

    def __getitem__(self, key: bytes) -> bytes:
        self._check()
        if key in self._pending:
            value = self._pending[key]
            if value is None:
                raise KeyError(key)
            return value
        row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return cast(bytes, row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._check()
        self._pending[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._pending[key] = None

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def flush(self) -> None:
        """Commit every buffered write in one SQLite transaction (nothing, if none)."""
        self._check()
        if not self._pending:
            return
        try:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
                [(k, v) for k, v in self._pending.items() if v is not None],
            )
            self._db.executemany(
                "DELETE FROM kv WHERE k = ?", [(k,) for k, v in self._pending.items() if v is None]
            )
            self._db.execute("COMMIT")
        except BaseException as exc:
            # The in-memory chain is now ahead of the disk. Carrying on would let a block whose
            # sender saw an error become durable later, so refuse all use until re-opened.
            self._failed = exc
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def close(self, *, flush: bool = True) -> None:
        """Flush (unless told not to), then close the file; SQLite checkpoints and removes
        the WAL."""
        if self.closed:
            return
        try:
            if flush and self._failed is None:
                self.flush()
        finally:
            self._db.close()
            self.closed = True

    def _check(self) -> None:
        if self.closed:
            raise ChainUnavailableError("the embedded chain is closed")
        if self._failed is not None:
            raise ChainError(f"the chain database failed to commit; re-open it: {self._failed}")


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
    """``PyEVMBackend`` over a chain we built, flushing the store after every mined block."""

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
        self._store = store

    def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("a durable chain is never reset to genesis")

    def revert_to_snapshot(self, snapshot: Any) -> None:
        raise NotImplementedError("a durable chain never rewinds: that would drop records")

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\0" * 20) -> tuple[bytes, ...]:
        hashes = cast(tuple[bytes, ...], super().mine_blocks(num_blocks, coinbase))
        self._store.flush()  # before the send that mined it returns: acknowledged = durable
        return hashes

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
        self, from_block: Any = None, to_block: Any = None, address: Any = None, topics: Any = None
    ) -> tuple[Any, ...]:
        """eth-tester's ``get_logs``, reading only blocks whose header bloom can match.

        Upstream decodes every block and receipt of the range (~2 ms a block: minutes over a
        100,000-block chain); reading a header's bloom costs ~50 microseconds.
        """
        self.validator.validate_inbound_filter_params(
            from_block=from_block, to_block=to_block, address=address, topics=topics
        )
        _, _, addresses, topic_specs = self.normalizer.normalize_inbound_filter_params(
            from_block=from_block, to_block=to_block, address=address, topics=topics
        )
        # A block can match only if, for every constrained field, one of its values is in the
        # bloom. (Blooms have false positives, never false negatives; upstream then filters.)
        clauses = [addresses] if addresses else []
        clauses += [spec for spec in topic_specs or () if spec is not None]
        masks = [
            [int(BloomFilter.from_iterable([v])) for v in (c if isinstance(c, tuple) else (c,))]
            for c in clauses
            if not (isinstance(c, tuple) and None in c)
        ]
        head = self.backend.chain.header.block_number - 1  # the pending block is not mined
        first = self._block_number(from_block, head)
        last = min(self._block_number(to_block, head), head)
        chaindb = self.backend.chain.chaindb
        logs: list[Any] = []
        for number in range(first, last + 1):
            # Only the bloom, header field 6 in every fork's layout: decoding the whole header
            # (py-evm tries each fork's shape) takes four times as long.
            header_rlp = chaindb.db[chaindb.get_canonical_block_hash(BlockNumber(number))]
            bloom = int.from_bytes(rlp.decode(header_rlp)[6], "big")
            if all(any(bloom & m == m for m in clause) for clause in masks):
                logs.extend(super().get_logs(number, number, address, topics))
        return tuple(logs)

    @staticmethod
    def _block_number(block: Any, head: int) -> int:
        if isinstance(block, int):
            return block
        return {"earliest": 0, "pending": head + 1}.get(block, head)  # None, latest, safe…


# Wrap every public method, ours (get_logs) and inherited, in the lock.
for _name, _member in list(vars(EthereumTester).items()):
    if inspect.isfunction(_member) and not _name.startswith("_"):
        setattr(_SerialisedTester, _name, _serialised(getattr(_SerialisedTester, _name)))


class _SerialisedProvider(EthereumTesterProvider):
    """web3's in-process provider, one request at a time, reporting the embedded chain id."""

    def __init__(self, tester: _SerialisedTester):
        endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
        endpoints["eth"]["chainId"] = static_return(EMBEDDED_CHAIN_ID)  # upstream: a constant
        endpoints["net"]["version"] = static_return(str(EMBEDDED_CHAIN_ID))
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
    store.flush()  # genesis, faucet and the chain-id marker in one commit
    return chain, faucet


class EmbeddedChain(Chain):
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
            tester = _SerialisedTester(_DurableBackend(store, chain, faucet, threading.RLock()))
            return cls(Web3(_SerialisedProvider(tester)), tester=tester, store=store)
        except BaseException:
            store.close(flush=False)  # a half-written genesis lacks its marker: redone next time
            raise

    def close(self) -> None:
        """Flush and close the database; the chain is unusable afterwards."""
        with self._lock:
            self._store.close()

    def __enter__(self) -> EmbeddedChain:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
