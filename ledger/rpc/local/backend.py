"""The JSON-RPC methods on an in-process chain: py-evm read directly, calls in worker processes.

:meth:`LocalBackend.read` answers every method but ``eth_call`` from py-evm's database under the
chain's lock (quick: a thread of the server's pool runs it), and formats the answer outside the
lock. ``eth_call`` is resolved here (block, defaults, gas cap: :meth:`prepare_call`) and run by
an :class:`~ledger.rpc.evm.pool.EvmPool` worker.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Final

from ledger.errors import RpcExecutionError, RpcInvalidParamsError
from ledger.rpc.call_params import CallRequest
from ledger.rpc.evm.job import CallJob, CallOutcome
from ledger.rpc.evm.pool import EvmPool
from ledger.rpc.local import fees
from ledger.rpc.local.format import (
    BLOB,
    format_block,
    format_receipt,
    format_transaction,
    tx_type,
)
from ledger.rpc.local.logs import find_logs
from ledger.rpc.local.proof import account_proof
from ledger.rpc.local.source import EvmSource
from ledger.rpc.methods import MethodCall
from ledger.rpc.params import BlockRef

ZERO_ADDRESS: Final = bytes(20)


class _Later:
    """A reader's answer to be formatted after the chain's lock is released."""

    def __init__(self, format_: Callable[[], Any]) -> None:
        self.format = format_


def _fork_path(vm_class: Any) -> str:
    """The dotted path of the py-evm fork a (possibly derived) VM class runs."""
    for cls in vm_class.__mro__:
        if cls.__module__.startswith("eth.vm.forks."):
            return f"{cls.__module__}.{cls.__qualname__}"
    raise RpcExecutionError("the chain runs a VM that calls cannot be replayed on")


class LocalBackend:
    """Answers for one in-process chain."""

    def __init__(
        self,
        source: EvmSource,
        *,
        client_version: str,
        gas_cap: int,
        max_logs: int,
        workers: int,
    ) -> None:
        self.source = source
        self.client_version = client_version
        self.gas_cap = gas_cap
        self.max_logs = max_logs
        self.pool = EvmPool(source.read_node, workers=workers)
        self._readers: dict[str, Callable[..., Any]] = {
            "eth_chainId": lambda: hex(source.chain_id),
            "net_version": lambda: str(source.chain_id),
            "web3_clientVersion": lambda: client_version,
            "eth_blockNumber": lambda: hex(source.head().block_number),
            "eth_gasPrice": lambda: hex(fees.gas_price(source)),
            "eth_maxPriorityFeePerGas": lambda: hex(fees.SUGGESTED_TIP),
            "eth_getBlockByNumber": self._block,
            "eth_getBlockByHash": lambda block_hash, hydrated: self._block(
                BlockRef(hash=block_hash), hydrated
            ),
            "eth_getTransactionByHash": self._transaction,
            "eth_getTransactionReceipt": self._receipt,
            "eth_getLogs": lambda log_filter: find_logs(source, log_filter, max_logs=max_logs),
            "eth_getBalance": lambda address, block: hex(
                self._accounts(block).get_balance(address)
            ),
            "eth_getTransactionCount": lambda address, block: hex(
                self._accounts(block).get_nonce(address)
            ),
            "eth_getCode": lambda address, block: (
                "0x" + bytes(self._accounts(block).get_code(address)).hex()
            ),
            "eth_getStorageAt": lambda address, key, block: (
                "0x"
                + int(self._accounts(block).get_storage(address, key.slot))
                .to_bytes(32, "big")
                .hex()
            ),
            "eth_getProof": self._proof,
            "eth_feeHistory": lambda count, newest, percentiles: fees.fee_history(
                source, count, newest, percentiles
            ),
        }

    # --- reads ------------------------------------------------------------------------------

    def read(self, call: MethodCall) -> Any:
        """The result of any method but ``eth_call`` (blocking: run it off the event loop)."""
        reader = self._readers[call.method]
        with self.source.locked():
            found = reader(*call.args)
        return found.format() if isinstance(found, _Later) else found

    #: Reads of one :meth:`read_many` answered per hold of the lock (the relayer, batcher and
    #: indexer write through the same lock: a bulk read yields to them between slices).
    READS_PER_HOLD = 256

    def read_many(self, calls: list[MethodCall]) -> list[Any]:
        """Several reads (no ``eth_call``) in order, a slice at a time under one hold of the
        lock; storage reads at one block share one view of the state (its account is looked
        up once, not once per slot)."""
        found: list[Any] = []
        for start in range(0, len(calls), self.READS_PER_HOLD):
            views: dict[BlockRef, Any] = {}
            with self.source.locked():
                for call in calls[start : start + self.READS_PER_HOLD]:
                    if call.method == "eth_getStorageAt":
                        address, key, block = call.args
                        if block not in views:
                            views[block] = self._accounts(block)
                        word = int(views[block].get_storage(address, key.slot))
                        found.append("0x" + word.to_bytes(32, "big").hex())
                    else:
                        found.append(self._readers[call.method](*call.args))
        return [f.format() if isinstance(f, _Later) else f for f in found]

    def _accounts(self, block: BlockRef) -> Any:
        return self.source.account_db(self.source.header(block))

    def _block(self, ref: BlockRef, hydrated: bool) -> Any:
        header = self.source.find_header(ref)
        if header is None:
            return None
        block = self.source.block_of(header)
        # Blocks and transactions are immutable values: formatting them (sender recovery
        # included) needs no database, so it happens outside the lock.
        return _Later(lambda: format_block(block, hydrated=hydrated))

    def _transaction(self, tx_hash: bytes) -> Any:
        found = self.source.find_transaction(tx_hash)
        if found is None:
            return None
        block, index = found
        return _Later(lambda: format_transaction(block.transactions[index], block.header, index))

    def _receipt(self, tx_hash: bytes) -> Any:
        found = self.source.find_transaction(tx_hash)
        if found is None:
            return None
        block, index = found
        receipts = self.source.receipts_of(block)
        blob_fee = None
        if tx_type(block.transactions[index]) == BLOB:
            blob_fee = fees.blob_base_fee(self.source, block.header)
        return _Later(lambda: format_receipt(block, receipts, index, blob_base_fee=blob_fee))

    def _proof(self, address: bytes, keys: tuple[Any, ...], block: BlockRef) -> Any:
        header = self.source.header(block)
        return account_proof(self.source.node, header.state_root, address, keys).to_json()

    # --- calls ------------------------------------------------------------------------------

    def prepare_call(self, call: MethodCall) -> CallJob:
        """Resolve an ``eth_call`` into a job (blocking: reads the chain under its lock).

        Gas: absent means the cap, above the cap is clamped to it, as geth does with its
        ``RPCGasCap``.
        """
        request: CallRequest = call.args[0]
        block: BlockRef = call.args[1]
        if request.chain_id is not None and request.chain_id != self.source.chain_id:
            raise RpcExecutionError(
                f"chainId does not match node's (have={request.chain_id}, "
                f"want={self.source.chain_id})"
            )
        if request.blob_versioned_hashes is not None or request.max_fee_per_blob_gas is not None:
            raise RpcInvalidParamsError(
                "invalid params: eth_call param 0 (transaction): blob transactions cannot be "
                "called on this chain"
            )
        with self.source.locked():
            header = self.source.header(block)
            vm = _fork_path(self.source.vm_class(header))
        return CallJob(
            block_hash=bytes(header.hash).hex(),
            vm=vm,
            chain_id=self.source.chain_id,
            sender=(request.sender or ZERO_ADDRESS).hex(),
            to=None if request.to is None else request.to.hex(),
            gas=min(request.gas if request.gas is not None else self.gas_cap, self.gas_cap),
            value=request.value or 0,
            data=(request.data or b"").hex(),
            has_fees=request.has_fees,
            gas_price=request.gas_price,
            max_fee_per_gas=request.max_fee_per_gas,
            max_priority_fee_per_gas=request.max_priority_fee_per_gas,
            access_list=None
            if request.access_list is None
            else [
                [entry.address.hex(), [key.hex() for key in entry.storage_keys]]
                for entry in request.access_list
            ],
            authorization_list=None
            if request.authorization_list is None
            else [
                [a.chain_id, a.address.hex(), a.nonce, a.y_parity, a.r, a.s]
                for a in request.authorization_list
            ],
        )

    def submit_call(self, job: CallJob, *, deadline: float, limit: float) -> Future[CallOutcome]:
        """Queue a prepared call on the workers (never blocks)."""
        return self.pool.submit(job, deadline=deadline, limit=limit)

    def saturated(self) -> bool:
        return self.pool.saturated()

    def warm(self) -> None:
        self.pool.warm()

    def close(self) -> None:
        self.pool.close()


__all__ = ["LocalBackend"]
