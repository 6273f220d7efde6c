"""Clients that keep getting refused are refused sooner: a per-client budget of error answers.

The service is CPU-bound (py-evm, signing, hashing) and serves everyone from one process. A
client that floods it with requests that fail (malformed, forbidden, out of range: each costs
parsing, validation and often a database read before the 4xx) takes that CPU from everybody
else. Honest clients seldom get errors; a hostile or broken one gets little else. So each
client has a bucket of error answers (:class:`ErrorBudget`, a token bucket: ``rate`` per second,
up to ``burst``); every 4xx it is answered costs one; while its bucket is empty it gets 429
``too-many-errors`` with ``Retry-After``, before routing, authentication or reading the body.
Successful requests cost nothing, however many: heavy honest use is never throttled.

A client is its token (the SHA-256 of the bearer secret), or its address when it sends none.
401 answers are charged to the address too, and a token this process has not seen accepted is
checked against its address's bucket as well: otherwise a flood of made-up tokens, each with a
fresh bucket, would never run dry. A token once accepted by authentication is its own client
from then on, so an attacker sharing an address (a proxy, a NAT) with honest clients throttles
only itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import PrincipalCache, token_digest
from api.deferred import is_replay
from api.errors import problem
from ledger.errors import AuthenticationError

#: Probes are never throttled: they cost nothing, and a liveness probe that a neighbour's flood
#: (same address) made fail would get a healthy service restarted.
UNTHROTTLED = frozenset({"/healthz", "/readyz"})

#: The longest a refused request is held before its 429 goes out.
TARPIT_SECONDS = 1.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class ErrorBudget:
    """Per-client token buckets of error answers: refilled at ``rate`` per second up to
    ``burst``. Bounded: past ``max_clients`` buckets the fullest are forgotten (a forgotten
    client starts again with a full bucket, which is what it would have had anyway)."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _level(self, key: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may be served again (0: now)."""
        bucket = self._level(key, self._clock())
        if bucket is None or bucket.tokens >= 1:
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def charge(self, key: str) -> None:
        """``key`` was answered with an error."""
        now = self._clock()
        bucket = self._level(key, now)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = max(bucket.tokens - 1, -self.burst)  # a debt is paid back, but bounded

    def _forget_full(self, now: float) -> None:
        for key in list(self._buckets):
            if self._level(key, now) is not None and self._buckets[key].tokens >= self.burst:
                del self._buckets[key]
        if len(self._buckets) >= self.max_clients:  # every client is in debt: start over
            self._buckets.clear()


class ErrorThrottle:
    """The ASGI middleware: refuses a client whose error budget is spent, and charges each
    error answer to it (``principals``: tokens this process has seen valid)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        budget: ErrorBudget,
        principals: PrincipalCache,
        max_tokens: int = 100_000,
    ) -> None:
        self.app = app
        self.budget = budget
        self.principals = principals  # filled by authentication: the tokens it accepted
        self.max_tokens = max_tokens
        self._accepted: set[str] = set()  # token keys authentication has accepted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTHROTTLED or is_replay(scope):
            await self.app(scope, receive, send)
            return
        address = "ip:" + (scope.get("client") or ("unknown",))[0]
        token = _token_key(Headers(scope=scope).get("authorization"))
        keys = [token] if token is not None else []
        if token is None or token not in self._accepted:
            keys.append(address)  # no token, or one not (yet) seen accepted
        wait = max(self.budget.wait(key) for key in keys)
        if wait > 0:
            # Held a moment before the answer: a flooding client waits out its own refusals
            # instead of turning each into another (cheap, but not free) request at once.
            await anyio.sleep(min(wait, TARPIT_SECONDS))
            retry = str(math.ceil(max(wait - TARPIT_SECONDS, 1)))
            refusal = problem(
                429,
                "too-many-errors",
                f"this client has been refused too often lately; retry in {retry} s",
                headers={"Retry-After": retry, "Connection": "close"},
            )
            await refusal(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if token is not None and self.principals.get(token[len("token:") :]):
                    self._remember(token)  # authentication accepted it, just now
                # A protocol that answers its errors with 200 (JSON-RPC) marks them in the
                # request's state.
                refused = bool(scope.get("state", {}).get("client_error"))
                if 400 <= status < 500 or refused:
                    self.budget.charge(keys[0])
                    if status == 401 and keys[0] != address:
                        self.budget.charge(address)
            await send(message)

        await self.app(scope, receive, counting)

    def _remember(self, token: str) -> None:
        if token not in self._accepted:
            if len(self._accepted) >= self.max_tokens:
                self._accepted.clear()  # a flood of distinct tokens: start over, stay bounded
            self._accepted.add(token)


def _token_key(authorization: str | None) -> str | None:
    try:
        return "token:" + token_digest(authorization)
    except AuthenticationError:
        return None
