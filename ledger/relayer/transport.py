"""How the relayer's signed transactions reach the node, and how their receipts come back.

Over a JSON-RPC URL, many requests go in one HTTP round trip (:mod:`ledger.chain.rpc_batch`):
a batch of 100 raw sends runs at several times the rate of sending them one by one. An
in-process chain (eth-tester, the embedded chain) has no HTTP to save, so it is asked one
request at a time, as is a node that refuses batches: the first refusal switches this transport
to one-by-one for good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from ledger.chain.backend import Chain
from ledger.chain.rpc_batch import BatchRefusedError, RpcBatcher, RpcResult
from ledger.errors import ChainUnavailableError, LedgerError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Transport:
    """Raw sends, receipts and block hashes for lists of transactions."""

    def __init__(self, chain: Chain, *, batch_size: int = 100) -> None:
        self.chain = chain
        url = chain.rpc_url
        self._batcher = RpcBatcher(url, size=batch_size) if url and batch_size > 1 else None

    @property
    def batched(self) -> bool:
        """Whether requests still go out in JSON-RPC batches."""
        return self._batcher is not None

    def send_raw(self, raw_txs: Sequence[str]) -> list[str | None]:
        """Broadcast each signed transaction; per transaction, None if the node took it, else
        why not (``nonce too low``, ``already known``…): the tracker decides what to do."""
        return self._each(
            "eth_sendRawTransaction",
            [[raw] for raw in raw_txs],
            batched=lambda r: None if r.ok else str((r.error or {}).get("message", r.error)),
            single=self._send_one,
        )

    def receipts(self, tx_hashes: Sequence[str]) -> list[Any]:
        """Each transaction's receipt (web3's decoded form), or None if the node has none."""
        return self._each(
            "eth_getTransactionReceipt",
            [[h] for h in tx_hashes],
            batched=self._decoded_receipt,
            single=self._receipt_one,
        )

    def known(self, tx_hashes: Sequence[str]) -> list[bool]:
        """Whether the node knows each transaction at all (mined or waiting in its pool)."""
        return self._each(
            "eth_getTransactionByHash",
            [[h] for h in tx_hashes],
            batched=self._found,
            single=self._known_one,
        )

    def block_hashes(self, numbers: Sequence[int]) -> dict[int, str | None]:
        """The canonical hash at each block number (None above the head)."""
        found = self._each(
            "eth_getBlockByNumber",
            [[hex(n), False] for n in numbers],
            batched=self._hash_of_block,
            single=self._block_hash_one,
        )
        return dict(zip(numbers, found, strict=True))

    # --- the two ways ------------------------------------------------------------------------

    def _each(
        self,
        method: str,
        params_list: list[list[Any]],
        *,
        batched: Callable[[RpcResult], T],
        single: Callable[[Any], T],
    ) -> list[T]:
        if not params_list:
            return []
        if self._batcher is not None:
            try:
                return [batched(r) for r in self._batcher.call(method, params_list)]
            except BatchRefusedError as exc:
                log.warning("relayer: %s; sending requests one at a time from now on", exc)
                self._batcher = None
        return [single(params[0]) for params in params_list]

    def _send_one(self, raw: str) -> str | None:
        try:
            self.chain.w3.eth.send_raw_transaction(HexBytes(raw))
        except Exception as exc:
            return str(exc)
        return None

    def _receipt_one(self, tx_hash: str) -> Any:
        return _unless_absent(
            lambda: self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash)),
            f"cannot read receipt of {tx_hash}",
        )

    def _known_one(self, tx_hash: str) -> bool:
        found = _unless_absent(
            lambda: self.chain.w3.eth.get_transaction(HexBytes(tx_hash)),
            f"cannot look up {tx_hash}",
        )
        return found is not None

    def _block_hash_one(self, number: str) -> str | None:
        block = _unless_absent(
            lambda: self.chain.w3.eth.get_block(int(number, 16)), f"cannot read block {number}"
        )
        return None if block is None else HexBytes(block["hash"]).to_0x_hex()

    @staticmethod
    def _decoded_receipt(answer: RpcResult) -> Any:
        if not answer.ok:
            raise _node_error("eth_getTransactionReceipt", answer)
        return None if answer.result is None else _receipt(answer.result)

    @staticmethod
    def _found(answer: RpcResult) -> bool:
        if not answer.ok:
            raise _node_error("eth_getTransactionByHash", answer)
        return answer.result is not None

    @staticmethod
    def _hash_of_block(answer: RpcResult) -> str | None:
        if not answer.ok:
            raise _node_error("eth_getBlockByNumber", answer)
        return None if answer.result is None else str(answer.result["hash"])


def _receipt(raw: dict[str, Any]) -> dict[str, Any]:
    """The fields of a JSON receipt the relayer reads, in web3's types. Not web3's own
    formatter: it checksums every address and was a tenth of the relayer's time per record."""
    return {
        "status": int(raw["status"], 16),
        "blockNumber": int(raw["blockNumber"], 16),
        "blockHash": HexBytes(raw["blockHash"]),
        "gasUsed": int(raw["gasUsed"], 16),
        "logs": [
            {
                "address": raw_log["address"],  # not checksummed: compare without case
                "topics": [HexBytes(t) for t in raw_log["topics"]],
                "data": HexBytes(raw_log["data"]),
                "logIndex": int(raw_log["logIndex"], 16),
            }
            for raw_log in raw["logs"]
        ],
    }


def _unless_absent(lookup: Callable[[], T], failure: str) -> T | None:
    """What ``lookup`` asked the node for, None if the node has no such transaction or block;
    any other failure is the node's (``failure``: what could not be done)."""
    try:
        return lookup()
    except Exception as exc:
        # web3 and eth-tester each have their own BlockNotFound, and nodes say "not found" in
        # the message of errors that are no exception type of either.
        absent = (
            isinstance(exc, TransactionNotFound)
            or type(exc).__name__ == "BlockNotFound"
            or "not found" in str(exc).lower()
        )
        if absent:
            return None
        raise ChainUnavailableError(f"{failure}: {exc}") from exc


def _node_error(method: str, answer: RpcResult) -> LedgerError:
    return ChainUnavailableError(f"{method} failed in a batch: {answer.error}")
