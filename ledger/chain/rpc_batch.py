"""JSON-RPC batches over plain HTTP: many requests in one round trip.

web3 8's ``batch_requests()`` refuses ``eth_sendRawTransaction``, so the relayer's batches go
out as one POST of a JSON array (JSON-RPC 2.0 §6). Some nodes refuse batches, or batches above
a size; :class:`BatchRefusedError` says so, and the caller falls back to one request at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from ledger.errors import ChainError, ChainUnavailableError, InvalidInputError


class BatchRefusedError(ChainError):
    """The node does not answer JSON-RPC batches (or not batches this large)."""

    code = "rpc-batch-refused"


@dataclass(frozen=True, slots=True)
class RpcResult:
    """One answer of a batch: ``result``, or the node's ``error`` object."""

    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class RpcBatcher:
    """Sends lists of JSON-RPC calls to ``url`` in batches of at most ``size``."""

    def __init__(self, url: str, *, size: int = 100, timeout: float = 30.0) -> None:
        if size < 1:
            raise InvalidInputError(f"batch size must be >= 1, got {size}")
        self.url = url
        self.size = size
        self.timeout = timeout
        self._http = requests.Session()
        # One connection, one request at a time: the relayer's sender thread and its main
        # thread may both use this batcher.
        self._lock = threading.Lock()

    def call(self, method: str, params_list: Sequence[list[Any]]) -> list[RpcResult]:
        """``method`` once per entry of ``params_list``; answers in the same order."""
        answers: list[RpcResult] = []
        for start in range(0, len(params_list), self.size):
            chunk = params_list[start : start + self.size]
            answers.extend(self._post(method, chunk))
        return answers

    def _post(self, method: str, params_list: Sequence[list[Any]]) -> list[RpcResult]:
        body: list[Any] = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, params in enumerate(params_list)
        ]
        try:
            with self._lock:
                response = self._http.post(self.url, json=body, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ChainUnavailableError(f"the chain is unreachable: {exc}") from exc
        except requests.RequestException as exc:
            raise ChainError(f"the node refused the request: {exc}") from exc
        if response.status_code >= 500 and response.status_code != 501:
            raise ChainUnavailableError(f"the node answered HTTP {response.status_code}")
        try:
            answers = response.json()
        except ValueError:
            answers = None
        # A node without batch support answers with one error object, an HTTP error, or
        # nothing parseable; one that caps batch size does the same above its cap.
        if response.status_code != 200 or not isinstance(answers, list):
            raise BatchRefusedError(
                f"the node refused a batch of {len(body)} (HTTP {response.status_code}): "
                f"{str(answers)[:200]}"
            )
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        if len(by_id) != len(body):
            raise BatchRefusedError(
                f"the node answered {len(by_id)} of a batch of {len(body)} requests"
            )
        return [RpcResult(by_id[i].get("result"), by_id[i].get("error")) for i in range(len(body))]
