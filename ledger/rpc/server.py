"""The read-only JSON-RPC server: a request body in, a response body out, nothing blocking.

:meth:`RpcServer.answer` is a coroutine for the HTTP layer to await with the raw body. It never
blocks the event loop and never holds a thread while an EVM call runs:

* the quick reads (blocks, receipts, logs, state, proofs) run through ``offload``, which the
  caller supplies (the HTTP layer passes its thread pool's ``run_in_threadpool``);
* an ``eth_call`` is resolved through ``offload`` too, then queued on the backend's workers and
  awaited as a future; if no worker takes it within a short wait, it is answered "busy".

One time budget (``evm_timeout``) covers all the EVM work of one request: the calls of a batch
run one after another, each getting what the earlier ones left, so a batch of a hundred infinite
loops costs one timeout, not a hundred. Whatever the body, the answer is well-formed JSON-RPC;
an unexpected failure is logged and answered as an internal error, never with its text.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
import platform
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from ledger.errors import (
    ChainUnavailableError,
    ConfigurationError,
    RpcError,
    RpcInternalError,
)
from ledger.rpc.envelope import (
    Refused,
    Request,
    error_response,
    parse_body,
    result_response,
)
from ledger.rpc.evm.job import CallOutcome, call_result
from ledger.rpc.evm.pool import GRACE, SPAWN_TIMEOUT, busy, timed_out
from ledger.rpc.local.backend import LocalBackend
from ledger.rpc.local.source import EvmSource
from ledger.rpc.methods import EVM_METHODS, MethodCall, parse_call
from ledger.rpc.remote import RemoteBackend

if TYPE_CHECKING:
    from ledger.chain.backend import Chain

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Runs a blocking function off the event loop and awaits its result.
Offload = Callable[[Callable[[], T]], Awaitable[T]]

#: Bodies larger than this are parsed off the event loop.
_PARSE_INLINE_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class RpcLimits:
    """The bounds of the endpoint; ``settings.group(RpcLimits, prefix="rpc_")`` fills the
    configurable ones from ``PROVLEDGER_RPC_*``."""

    #: Gas of an ``eth_call`` that names none, and the most one may use (geth's RPCGasCap).
    gas_cap: int = 50_000_000
    #: Seconds of EVM time one HTTP request may use, whatever its batch holds (RPCEVMTimeout).
    evm_timeout: float = 5.0
    #: Worker processes running calls.
    evm_workers: int = 1
    #: Seconds a call waits for a free worker before it is answered "busy".
    queue_wait: float = 1.0
    #: Most logs one ``eth_getLogs`` answer may hold.
    max_logs: int = 10_000
    #: Most calls in one batch.
    max_batch: int = 100


class Backend(Protocol):
    """Where the answers come from: an in-process chain or a JSON-RPC node."""

    def read(self, call: MethodCall) -> Any: ...
    def prepare_call(self, call: MethodCall) -> Any: ...
    def submit_call(
        self, prepared: Any, *, deadline: float, limit: float
    ) -> Future[CallOutcome]: ...
    def saturated(self) -> bool: ...
    def warm(self) -> None: ...
    def close(self) -> None: ...


def client_version() -> str:
    """``web3_clientVersion`` of the in-process chains, in geth's ``name/version/…`` form."""
    return (
        f"provledger/v{importlib.metadata.version('provledger')}"
        f"/py-evm-v{importlib.metadata.version('py-evm')}/python{platform.python_version()}"
    )


def _dump(response: dict[str, Any]) -> str:
    return json.dumps(response, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RpcAnswer:
    """What one HTTP body is answered: the JSON text (None: only notifications, nothing to
    answer), and whether the body as a whole was refused."""

    text: str | None
    refused: bool = False


class RpcServer:
    """JSON-RPC 2.0 over one chain, read-only, bounded."""

    def __init__(self, backend: Backend, limits: RpcLimits) -> None:
        self.backend = backend
        self.limits = limits

    @classmethod
    def for_chain(cls, chain: Chain, limits: RpcLimits | None = None) -> RpcServer:
        """The server over ``chain``: py-evm read directly if it runs in this process,
        forwarding to the node otherwise."""
        limits = limits or RpcLimits()
        source = EvmSource.of(chain)
        backend: Backend
        if source is not None:
            backend = LocalBackend(
                source,
                client_version=client_version(),
                gas_cap=limits.gas_cap,
                max_logs=limits.max_logs,
                workers=limits.evm_workers,
            )
        elif chain.rpc_url is not None:
            backend = RemoteBackend(
                chain.rpc_url,
                chain_id=chain.chain_id,
                gas_cap=limits.gas_cap,
                max_logs=limits.max_logs,
            )
        else:
            raise ConfigurationError("the chain is neither in process nor reachable over HTTP")
        return cls(backend, limits)

    def warm(self) -> None:
        """Start what calls need (worker processes) now instead of at the first call."""
        self.backend.warm()

    def close(self) -> None:
        """Stop the workers; the server answers nothing afterwards."""
        self.backend.close()

    async def answer(self, body: bytes, offload: Offload[Any]) -> str | None:
        """The response body for a request body; None when there is nothing to answer (only
        notifications). Never raises: a failure of ours is logged and answered -32603."""
        return (await self.respond(body, offload)).text

    async def respond(self, body: bytes, offload: Offload[Any]) -> RpcAnswer:
        """:meth:`answer`, and whether the body as a whole was refused (not JSON, too deep,
        not a request): the HTTP layer counts that as the client's error."""
        try:
            return await self._answer(body, offload)
        except Exception:
            log.exception("JSON-RPC body failed")
            return RpcAnswer(_dump(error_response(None, RpcInternalError("internal error"))))

    async def _answer(self, body: bytes, offload: Offload[Any]) -> RpcAnswer:
        deadline = time.monotonic() + self.limits.evm_timeout
        try:
            if len(body) > _PARSE_INLINE_BYTES:
                parsed = await offload(lambda: parse_body(body, max_batch=self.limits.max_batch))
            else:
                parsed = parse_body(body, max_batch=self.limits.max_batch)
        except RpcError as exc:
            return RpcAnswer(_dump(error_response(None, exc)), refused=True)
        parts: list[str] = []
        for entry in parsed.entries:
            if isinstance(entry, Refused):
                parts.append(_dump(error_response(entry.id, entry.error)))
                continue
            response = await self._respond(entry, deadline, offload)
            if not entry.notification:
                parts.append(response)
        if not parts:
            return RpcAnswer(None)
        return RpcAnswer("[" + ",".join(parts) + "]" if parsed.batch else parts[0])

    async def _respond(self, request: Request, deadline: float, offload: Offload[Any]) -> str:
        try:
            call = parse_call(request.method, request.params)
            if call.method in EVM_METHODS:
                result = await self._call(call, deadline, offload)
                return _dump(result_response(request.id, result))
            return str(
                await offload(lambda: _dump(result_response(request.id, self.backend.read(call))))
            )
        except RpcError as exc:
            return _dump(error_response(request.id, exc))
        except ChainUnavailableError:
            error = RpcInternalError("internal error: the chain is unavailable")
            return _dump(error_response(request.id, error))
        except Exception:
            log.exception("JSON-RPC %s failed", request.method)
            return _dump(error_response(request.id, RpcInternalError("internal error")))

    async def _call(self, call: MethodCall, deadline: float, offload: Offload[Any]) -> str:
        limit = self.limits.evm_timeout
        prepared = await offload(lambda: self.backend.prepare_call(call))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timed_out(limit)
        future = self.backend.submit_call(prepared, deadline=deadline, limit=limit)
        waiting = asyncio.wrap_future(future)
        try:
            done, _ = await asyncio.wait({waiting}, timeout=min(self.limits.queue_wait, remaining))
            if not done and self.backend.saturated() and future.cancel():
                raise busy()  # still queued, and every worker is running a call
            if not done:
                # Queued behind a worker that is starting, or already running: either way the
                # job is answered (the driver answers a job it takes late with a timeout, kills
                # a worker that overruns, and gives a job the time it waited for a worker to
                # start, which SPAWN_TIMEOUT bounds).
                late = deadline - time.monotonic() + GRACE + 1 + SPAWN_TIMEOUT
                done, _ = await asyncio.wait({waiting}, timeout=max(0.0, late))
                if not done and future.cancel():
                    raise timed_out(limit)
            outcome: CallOutcome = await waiting
        except asyncio.CancelledError:
            future.cancel()  # the client went away; a call already running ends by its deadline
            raise
        return call_result(outcome, limit=limit)


__all__ = ["Backend", "Offload", "RpcLimits", "RpcServer", "client_version"]
