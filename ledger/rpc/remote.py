"""The JSON-RPC methods on a chain reached over JSON-RPC (anvil, Besu): validated, then forwarded.

Only the methods of :data:`ledger.rpc.methods.METHODS` get here, and what is sent to the node is
the validated arguments re-encoded (:meth:`MethodCall.wire_params`), never the client's text.
The node's answers pass through, its error objects unchanged; ``eth_getLogs`` answers are still
held to the log limit. ``eth_call`` is forwarded with the gas cap applied to its ``gas`` (a call
that names none gets the node's own default, which its own limits bound) and with the request's
remaining time budget as the HTTP timeout, on a small thread pool of its own.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Final

import requests

from ledger.errors import (
    RpcInternalError,
    RpcLimitExceededError,
    RpcNodeError,
    RpcTimeoutError,
)
from ledger.rpc.call_params import CallRequest
from ledger.rpc.evm.job import CallOutcome
from ledger.rpc.methods import MethodCall
from ledger.rpc.params import StorageKey

#: HTTP timeout of a forwarded read.
READ_TIMEOUT: Final = 30.0
#: Longest node error message passed on.
MAX_NODE_MESSAGE: Final = 1_000


def _echo_keys(proof: Any, keys: tuple[StorageKey, ...]) -> None:
    """Storage keys go to the node as full words (some nodes refuse ``0x0``); the answer names
    them as the client did, as geth does (:attr:`StorageKey.echo`)."""
    entries = proof.get("storageProof") if isinstance(proof, dict) else None
    if isinstance(entries, list) and len(entries) == len(keys):
        for entry, key in zip(entries, keys, strict=True):
            if isinstance(entry, dict):
                entry["key"] = key.echo


class RemoteBackend:
    """Answers for one JSON-RPC node at ``url``."""

    def __init__(
        self, url: str, *, chain_id: int, gas_cap: int, max_logs: int, call_threads: int = 4
    ) -> None:
        self.url = url
        self.chain_id = chain_id
        self.gas_cap = gas_cap
        self.max_logs = max_logs
        self._sessions = threading.local()
        self._calls = ThreadPoolExecutor(call_threads, thread_name_prefix="rpc-forward")

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def _post(self, method: str, params: list[Any], *, timeout: float) -> Any:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            response = self._session().post(self.url, json=body, timeout=timeout)
            answer = response.json()
        except requests.Timeout as exc:
            raise TimeoutError from exc
        except (requests.RequestException, ValueError) as exc:
            raise RpcInternalError("internal error: the chain node is unreachable") from exc
        if not isinstance(answer, dict):
            raise RpcInternalError("internal error: the chain node answered nonsense")
        error = answer.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            data = error.get("data")
            raise RpcNodeError(
                code if isinstance(code, int) and not isinstance(code, bool) else -32000,
                str(message)[:MAX_NODE_MESSAGE] if message is not None else "error",
                data=data if isinstance(data, str) else None,
            )
        if "result" not in answer:
            raise RpcInternalError("internal error: the chain node answered nonsense")
        return answer["result"]

    # --- reads ------------------------------------------------------------------------------

    def read(self, call: MethodCall) -> Any:
        """Forward any method but ``eth_call`` (blocking: run it off the event loop)."""
        if call.method == "eth_chainId":
            return hex(self.chain_id)  # checked once when the chain was opened
        try:
            result = self._post(call.method, call.wire_params(), timeout=READ_TIMEOUT)
        except TimeoutError:
            raise RpcInternalError(
                f"internal error: the chain node did not answer within {READ_TIMEOUT:g} s"
            ) from None
        if call.method == "eth_getProof":
            _echo_keys(result, call.args[1])
        if (
            call.method == "eth_getLogs"
            and isinstance(result, list)
            and len(result) > self.max_logs
        ):
            raise RpcLimitExceededError(
                f"query returned more than {self.max_logs} results; narrow the block range"
            )
        return result

    # --- calls ------------------------------------------------------------------------------

    def prepare_call(self, call: MethodCall) -> MethodCall:
        """The call as it will be forwarded: gas above the cap clamped to it."""
        request: CallRequest = call.args[0]
        if request.gas is not None and request.gas > self.gas_cap:
            request = replace(request, gas=self.gas_cap)
        return MethodCall(call.method, (request, *call.args[1:]))

    def submit_call(
        self, call: MethodCall, *, deadline: float, limit: float
    ) -> Future[CallOutcome]:
        """Forward ``call`` on the forwarding threads (never blocks the caller)."""
        return self._calls.submit(self._forward_call, call, deadline, limit)

    def _forward_call(self, call: MethodCall, deadline: float, limit: float) -> CallOutcome:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RpcTimeoutError(f"execution aborted (timeout = {limit:g}s)")
        try:
            result = self._post(call.method, call.wire_params(), timeout=remaining)
        except TimeoutError:
            raise RpcTimeoutError(f"execution aborted (timeout = {limit:g}s)") from None
        if not isinstance(result, str) or not result.startswith("0x"):
            raise RpcInternalError("internal error: the chain node answered nonsense")
        try:
            return CallOutcome(status="ok", output=bytes.fromhex(result[2:]))
        except ValueError:
            raise RpcInternalError("internal error: the chain node answered nonsense") from None

    def saturated(self) -> bool:
        """A call still queued after the short wait found every forwarding thread taken."""
        return True

    def warm(self) -> None:
        """Nothing to start: the node is already running."""

    def close(self) -> None:
        self._calls.shutdown(wait=False, cancel_futures=True)


__all__ = ["READ_TIMEOUT", "RemoteBackend"]
