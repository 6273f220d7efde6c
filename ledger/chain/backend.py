"""One interface over the chains provledger runs on.

* :meth:`Chain.eth_tester` — py-evm in process (``PyEVMBackend``, named explicitly so a missing
  py-evm fails loudly instead of silently giving a mock backend). Tests and quick experiments.
* :meth:`Chain.rpc` — any JSON-RPC URL: a managed anvil node, a Besu/QBFT consortium node…

Everything web3 or eth-tester raises is translated here into the :mod:`ledger.errors` tree;
nothing foreign escapes this boundary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import requests
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    Web3Exception,
)
from web3.types import BlockIdentifier, TxParams

from ledger.chain.revert import decode_revert, revert_data_from_message
from ledger.errors import (
    ChainError,
    ChainMismatchError,
    ChainUnavailableError,
    InvalidInputError,
    LedgerError,
    TransactionFailedError,
)

if TYPE_CHECKING:
    from ledger.chain.embedded_logs import LogTable

T = TypeVar("T")

#: Gas given to a transaction whose estimate could not be made because it will revert.
_REVERT_REPLAY_GAS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """A mined, successful transaction: its chain coordinates and what it cost."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    logs: tuple[Any, ...]
    contract_address: ChecksumAddress | None = None


def _translate(exc: BaseException, *, tx_hash: str | None = None) -> LedgerError:
    """Map a foreign exception raised by web3 / eth-tester / requests to a LedgerError."""
    if isinstance(exc, LedgerError):
        return exc
    if isinstance(exc, ContractCustomError | ContractLogicError | ContractPanicError):
        data = exc.data if isinstance(exc.data, str) else None
        if data and data.startswith("0x"):
            return decode_revert(bytes.fromhex(data[2:]), tx_hash=tx_hash)
        return TransactionFailedError(f"the contract reverted: {exc}", tx_hash=tx_hash)
    if isinstance(exc, TransactionFailed):
        message = str(exc.args[0]) if exc.args else str(exc)
        raw = revert_data_from_message(message)
        if raw is None:
            raw = _raw_revert_in_context(exc)
        if raw is not None:
            return decode_revert(raw, tx_hash=tx_hash)
        return TransactionFailedError(message, tx_hash=tx_hash)
    if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError):
        return ChainUnavailableError(f"the chain is unreachable: {exc}")
    if isinstance(exc, requests.RequestException):
        return ChainError(f"the node refused the request: {exc}")
    if isinstance(exc, TimeExhausted):
        return ChainError(f"timed out waiting for a receipt: {exc}")
    if isinstance(exc, Web3Exception | ValueError):
        return ChainError(f"the chain refused the request: {exc}")
    raise exc


def _raw_revert_in_context(exc: BaseException) -> bytes | None:
    """The revert bytes of the eth-tester exception ``exc`` was raised while handling.

    web3's eth-tester provider re-raises a revert as text, decoding its data as
    ``Error(string)`` whatever the selector: a custom error whose arguments happen to read as
    an ABI string (``KeyDirectoryInvalidKeyLength(0x20, 0)``: offset 32, length 0) arrives as
    an empty reason. The exception it handled still holds the bytes.
    """
    inner = exc.__context__
    if not isinstance(inner, TransactionFailed) or not inner.args:
        return None
    first = inner.args[0]
    if isinstance(first, Exception) and first.args:
        first = first.args[0]
    return first if isinstance(first, bytes) else None


class Chain:
    """A connection to one EVM chain, with its chain id checked once and kept."""

    def __init__(
        self,
        w3: Web3,
        *,
        tester: EthereumTester | None = None,
        expected_chain_id: int | None = None,
    ):
        self.w3 = w3
        self._tester = tester
        # Serialises direct readers of the in-process chain with each other (the embedded chain
        # replaces it with the lock every one of its users takes).
        self._lock: AbstractContextManager[Any] = threading.RLock()
        self._can_trace = True  # until the node refuses debug_traceTransaction
        self._session: requests.Session | None = None
        try:
            self.chain_id: int = w3.eth.chain_id
        except Exception as exc:
            raise _translate(exc) from exc
        if expected_chain_id is not None and expected_chain_id != self.chain_id:
            raise ChainMismatchError(
                f"expected chain id {expected_chain_id}, the node reports {self.chain_id}"
            )

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def eth_tester(cls) -> Chain:
        """A fresh in-process py-evm chain (Prague rules), pre-funded dev accounts."""
        tester = EthereumTester(backend=PyEVMBackend())
        return cls(Web3(EthereumTesterProvider(tester)), tester=tester)

    @classmethod
    def rpc(
        cls,
        url: str,
        *,
        expected_chain_id: int | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> Chain:
        """A JSON-RPC endpoint; refuses a chain id other than ``expected_chain_id``. ``headers``
        go with every request (a bearer token for a service's ``/rpc`` that asks for one)."""
        session = requests.Session()  # ours, so that close() can let its connections go
        session.headers.update(headers or {})
        try:
            chain = cls(
                Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}, session=session)),
                expected_chain_id=expected_chain_id,
            )
        except BaseException:
            session.close()
            raise
        chain._session = session
        return chain

    def close(self) -> None:
        """Let go of the connections to the node (a JSON-RPC chain; nothing otherwise)."""
        if self._session is not None:
            self._session.close()

    @property
    def is_in_process(self) -> bool:
        return self._tester is not None

    @property
    def rpc_url(self) -> str | None:
        """The node's HTTP JSON-RPC URL, or None for an in-process chain (no HTTP to batch on)."""
        provider = self.w3.provider
        if isinstance(provider, HTTPProvider) and provider.endpoint_uri:
            return str(provider.endpoint_uri)
        return None

    @property
    def py_evm(self) -> Any | None:
        """The py-evm chain behind an in-process chain, None for a JSON-RPC node: for readers
        that need its database directly (the ``/rpc`` server). Read it under :attr:`evm_lock`.
        On a plain eth-tester chain the lock only orders such readers among themselves: that
        chain is for tests, which drive it from one thread."""
        return self._tester.backend.chain if self._tester is not None else None

    @property
    def evm_lock(self) -> AbstractContextManager[Any]:
        """The lock to hold while reading :attr:`py_evm` (py-evm is not thread-safe)."""
        return self._lock

    @property
    def log_table(self) -> LogTable | None:
        """The indexed log table of a chain that keeps one (the embedded chain), else None."""
        return None

    # --- calls and transactions ------------------------------------------------------------

    def call(self, fn: Callable[[], T]) -> T:
        """Run a read (``lambda: contract.functions.x().call()``), translating failures."""
        try:
            return fn()
        except Exception as exc:
            raise _translate(exc) from exc

    def transact(
        self, function: ContractFunction, sender: LocalAccount, *, gas: int | None = None
    ) -> Receipt:
        """Sign ``function`` with ``sender``'s key, send it, wait for the receipt.

        A call that would revert is refused before sending with the decoded contract error
        (gas estimation runs it). A transaction that reverts once mined is replayed with
        ``eth_call`` at its block to recover and decode the revert data.
        """
        try:
            params: dict[str, Any] = {
                "from": sender.address,
                "chainId": self.chain_id,
                "nonce": self.w3.eth.get_transaction_count(sender.address, "pending"),
            }
            params["gas"] = (
                gas if gas is not None else function.estimate_gas(cast(TxParams, params))
            )
            tx = function.build_transaction(cast(TxParams, params))
            return self.send_signed(sender, dict(tx))
        except Exception as exc:
            raise _translate(exc) from exc

    def deploy(
        self, bytecode: str, abi: Any, args: tuple[Any, ...], sender: LocalAccount
    ) -> Receipt:
        """Deploy a contract from ``sender``; the receipt carries ``contract_address``."""
        try:
            constructor = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args)
            params: dict[str, Any] = {
                "from": sender.address,
                "chainId": self.chain_id,
                "nonce": self.w3.eth.get_transaction_count(sender.address, "pending"),
            }
            params["gas"] = constructor.estimate_gas(params)
            return self.send_signed(
                sender, dict(constructor.build_transaction(cast(TxParams, params)))
            )
        except Exception as exc:
            raise _translate(exc) from exc

    def send_signed(
        self, sender: LocalAccount, tx: dict[str, Any], *, timeout: float = 120.0
    ) -> Receipt:
        """Sign a fully built transaction, send it raw and wait for a successful receipt."""
        signed = sender.sign_transaction(tx)
        tx_hash = HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).to_0x_hex()
        try:
            raw = self.w3.eth.wait_for_transaction_receipt(
                HexStr(tx_hash), timeout=timeout, poll_latency=0.05
            )
        except Exception as exc:
            raise _translate(exc, tx_hash=tx_hash) from exc
        if raw["status"] != 1:
            raise self._replay_failure(tx, raw["blockNumber"], tx_hash)
        return Receipt(
            tx_hash=tx_hash,
            block_number=raw["blockNumber"],
            block_hash=HexBytes(raw["blockHash"]).to_0x_hex(),
            gas_used=raw["gasUsed"],
            logs=tuple(raw["logs"]),
            contract_address=raw.get("contractAddress"),
        )

    def _replay_failure(self, tx: dict[str, Any], block_number: int, tx_hash: str) -> LedgerError:
        traced = self._traced_failure(tx_hash)
        if traced is not None:
            return traced
        # Replayed on the state before its block: exact when it is alone in its block (as on
        # an auto-mining in-process chain), not when transactions ahead of it in the block
        # changed what it saw.
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.w3.eth.call(cast(TxParams, call), block_identifier=max(block_number - 1, 0))
        except Exception as exc:
            return _translate(exc, tx_hash=tx_hash)
        return TransactionFailedError(
            "the transaction reverted on chain but not on replay", tx_hash=tx_hash
        )

    def _traced_failure(self, tx_hash: str) -> LedgerError | None:
        """The failure of a mined transaction as the node traced it (``debug_traceTransaction``
        with the call tracer: revert data of the very execution), or None when the node does
        not trace (then it is not asked again)."""
        if self._tester is not None or not self._can_trace:
            return None
        try:
            response = self.w3.provider.make_request(
                "debug_traceTransaction",  # type: ignore[arg-type]
                [tx_hash, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}}],
            )
        except Exception:
            return None  # unreachable now: replay instead, and try tracing again next time
        trace = response.get("result")
        if "error" in response or not isinstance(trace, dict) or "error" not in trace:
            self._can_trace = False
            return None
        output = str(trace.get("output") or "0x")
        if len(output) > 2:
            return decode_revert(bytes.fromhex(output[2:]), tx_hash=tx_hash)
        return TransactionFailedError(
            f"the transaction failed on chain: {trace['error']}", tx_hash=tx_hash
        )

    # --- development chains ----------------------------------------------------------------

    def fund(self, address: str, wei: int) -> None:
        """Give ``address`` ``wei`` on a development chain (eth-tester or anvil)."""
        if self._tester is not None:
            funder = self._tester.get_accounts()[0]
            self._tester.send_transaction(
                {"from": funder, "to": address, "value": wei, "gas": 21_000}
            )
            return
        self._rpc("anvil_setBalance", [address, hex(wei)])

    def block_time(self) -> int:
        """Timestamp of the latest block."""
        return int(self.call(lambda: self.w3.eth.get_block("latest"))["timestamp"])

    def storage_at(self, address: str, slot: int, block: BlockIdentifier = "latest") -> bytes:
        """The 32-byte word at ``slot`` of ``address``'s storage as of ``block``."""
        try:
            if self._tester is not None:
                # web3's tester provider hands eth-tester a block number as hex, which it
                # refuses for this method; asked directly, it takes the number.
                value = self._tester.get_storage_at(address, hex(slot), block)
                return bytes(HexBytes(value)).rjust(32, b"\0")
            word = self.w3.eth.get_storage_at(self.w3.to_checksum_address(address), slot, block)
            return bytes(word).rjust(32, b"\0")
        except Exception as exc:
            raise _translate(exc) from exc

    def head(self) -> tuple[int, str]:
        """The latest block's number and hash (0x-hex), asked of the provider directly: web3's
        block formatting costs more than the round trip, and callers may ask on every request.
        An in-process chain answers from py-evm's canonical head (no block is built or
        formatted: verification asks on every request)."""
        if self._tester is not None:
            with self.evm_lock:
                self._ensure_open()
                header = self._tester.backend.chain.get_canonical_head()
            return int(header.block_number), "0x" + bytes(header.hash).hex()
        provider = self.w3.provider
        response = self.call(
            lambda: provider.make_request("eth_getBlockByNumber", ["latest", False])  # type: ignore[arg-type]
        )
        block = response["result"]
        number = block["number"]
        return (
            int(number, 16) if isinstance(number, str) else int(number),
            HexBytes(block["hash"]).to_0x_hex(),
        )

    def head_if_free(self) -> tuple[int, str] | None:
        """:meth:`head` of an in-process chain if nothing holds its lock (a read that must not
        wait: the event loop's); None if it would have to wait, or for a JSON-RPC node."""
        if self._tester is None:
            return None
        lock: Any = self.evm_lock
        if not lock.acquire(blocking=False):
            return None
        try:
            self._ensure_open()
            header = self._tester.backend.chain.get_canonical_head()
        finally:
            lock.release()
        return int(header.block_number), "0x" + bytes(header.hash).hex()

    def _ensure_open(self) -> None:
        """Raise :class:`ChainUnavailableError` if the chain can no longer be read."""

    def advance_time(self, seconds: int) -> None:
        """Mine a block exactly ``seconds`` after the latest one (development chains only)."""
        if seconds < 1:
            raise InvalidInputError(f"time only moves forward: seconds must be >= 1, got {seconds}")
        target = self.block_time() + seconds
        if self._tester is not None:
            # The backend's time_travel(t) mines a block at t - 1. EthereumTester.time_travel would
            # also refuse any t not after the pending block, whose time is the wall clock, so
            # after a snapshot revert it can be far ahead; only "after the parent" is a real rule.
            self._tester.backend.time_travel(target + 1)
            return
        self._rpc("evm_mine", [target])

    def snapshot(self) -> Any:
        """Take a snapshot of the chain state; :meth:`revert` returns to it."""
        if self._tester is not None:
            return self._tester.take_snapshot()
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot: Any) -> None:
        """Return to ``snapshot`` (development chains only). The snapshot is used up."""
        if self._tester is not None:
            self._tester.revert_to_snapshot(snapshot)
            return
        if not self._rpc("evm_revert", [snapshot]):
            raise ChainError(f"the node refused to revert to snapshot {snapshot}")

    def _rpc(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except Exception as exc:
            raise _translate(exc) from exc
        if "error" in response:
            raise ChainError(f"{method} failed: {response['error']}")
        return response.get("result")
