"""Raw JSON-RPC in batches: what bulk readers of the chain speak, on any node or in process.

Bulk verification reads thousands of logs, transactions and headers. Through web3 each is one
request and one round of result formatting (checksummed addresses, attribute dicts); here a list
of calls goes to the node as one JSON-RPC batch and comes back as the node's own JSON, which the
reader decodes only as far as it needs. Two transports answer the same JSON:

* :class:`HttpJsonRpc`: any node over HTTP (anvil, Besu, geth), batches of at most
  :attr:`HttpJsonRpc.batch_size` calls per POST;
* :class:`LocalJsonRpc`: the in-process chain, read by the same code that serves ``/rpc``
  (py-evm's database and the embedded chain's log table directly, no web3 in between).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import requests

from ledger.chain.backend import Chain
from ledger.errors import ChainError, ChainUnavailableError, ConfigurationError, LedgerError
from ledger.rpc.local.backend import LocalBackend
from ledger.rpc.local.source import EvmSource
from ledger.rpc.methods import parse_call

#: One call: the method and its params as the JSON-RPC specification writes them.
Call = tuple[str, list[Any]]


class JsonRpc(Protocol):
    """Answers a list of calls, results in the same order; any error raises."""

    def batch(self, calls: Sequence[Call]) -> list[Any]: ...


class HttpJsonRpc:
    """A node over HTTP, asked in JSON-RPC batches."""

    #: Calls per POST. Nodes cap batches (geth 1,000, Besu 1,024 by default); this stays under.
    batch_size = 500

    def __init__(
        self, url: str, *, session: requests.Session | None = None, timeout: float = 60.0
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._session = session or requests.Session()

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        results: list[Any] = []
        for start in range(0, len(calls), self.batch_size):
            results.extend(self._post(calls[start : start + self.batch_size]))
        return results

    def _post(self, calls: Sequence[Call]) -> list[Any]:
        body: Any = [
            {"jsonrpc": "2.0", "id": n, "method": method, "params": params}
            for n, (method, params) in enumerate(calls)
        ]
        try:
            response = self._session.post(self.url, json=body, timeout=self.timeout)
            response.raise_for_status()
            answers = response.json()
        except requests.RequestException as exc:
            raise ChainUnavailableError(f"the node at {self.url} did not answer: {exc}") from exc
        except ValueError as exc:
            raise ChainError(f"the node at {self.url} answered with no JSON: {exc}") from exc
        if not isinstance(answers, list):
            # A node that refuses batches answers one error object for the whole request.
            error = answers.get("error") if isinstance(answers, dict) else answers
            raise ChainError(f"the node at {self.url} refused a JSON-RPC batch: {error}")
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        results = []
        for n, (method, _) in enumerate(calls):
            answer = by_id.get(n)
            if answer is None:
                raise ChainError(f"the node at {self.url} left {method} (id {n}) unanswered")
            if "error" in answer:
                raise ChainError(f"{method} failed: {answer['error']}")
            results.append(answer.get("result"))
        return results


class LocalJsonRpc:
    """The in-process chain, read as its ``/rpc`` endpoint reads it (no web3, no HTTP)."""

    def __init__(self, chain: Chain, *, max_logs: int = 1_000_000) -> None:
        source = EvmSource.of(chain)
        if source is None:
            raise ConfigurationError("LocalJsonRpc reads an in-process chain only")
        # Reads only: the backend's call workers start on the first eth_call, which never comes.
        self._backend = LocalBackend(
            source, client_version="provledger", gas_cap=0, max_logs=max_logs, workers=1
        )

    def batch(self, calls: Sequence[Call]) -> list[Any]:
        parsed = [parse_call(method, params) for method, params in calls]
        try:
            return self._backend.read_many(parsed)
        except LedgerError:
            raise
        except Exception as exc:  # py-evm's own errors: the chain could not be read
            raise ChainError(f"reading the in-process chain failed: {exc!r}") from exc


def json_rpc_for(chain: Chain) -> JsonRpc:
    """The batch transport to ``chain``: in process if it runs here, else over its HTTP URL."""
    if chain.py_evm is not None:
        return LocalJsonRpc(chain)
    if chain.rpc_url is not None:
        return HttpJsonRpc(chain.rpc_url, session=chain._session)
    raise ConfigurationError("the chain is neither in process nor reachable over HTTP")


__all__ = ["Call", "HttpJsonRpc", "JsonRpc", "LocalJsonRpc", "json_rpc_for"]
