"""The chain's head as the service last saw it: number, hash, age, finality, reachability.

One background poller (:meth:`HeadWatch.run`) asks the node for its latest and finalized blocks;
everything that needs "where is the chain now" without blocking on the node reads the last
answer (:meth:`HeadWatch.snapshot`): ``/readyz``, the confirmations of an operation, the
readiness of the relayer. So a node that is down or stalled slows nobody: it shows as an old
``checked_at`` or a head that has not moved.

Finality. A node that knows finality answers the ``finalized`` block tag (QBFT finalises each
block as it is sealed; anvil answers ``head - 64``; a proof-of-stake node the last finalised
checkpoint). For a node that does not, a block ``finality_depth`` deep counts as final.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from hexbytes import HexBytes

from ledger.chain.backend import Chain
from ledger.errors import ChainError, ChainUnavailableError, LedgerError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Head:
    """The newest block, and the newest block the chain will never reorganise away."""

    number: int
    hash: str
    timestamp: int
    finalized: int


@dataclass(frozen=True, slots=True)
class HeadSnapshot:
    """What the watch last learned. ``head`` is the last head read, even if the node has since
    gone away (``reachable`` False, ``error`` why); ``moved_at`` is when its number or hash last
    changed (``time.monotonic()``), ``checked_at`` when the node last answered."""

    head: Head | None = None
    reachable: bool = False
    error: str | None = None
    moved_at: float | None = None
    checked_at: float | None = None
    attempted_at: float | None = None  # the last read, answered or not

    def unchanged_for(self, now: float | None = None) -> float | None:
        """Seconds since the head last moved, as this process saw it (None before a first read).
        Measured here rather than from block timestamps: a node's clock may be wrong."""
        if self.moved_at is None:
            return None
        return (time.monotonic() if now is None else now) - self.moved_at


class Finality:
    """Reads the finalized block, or ``head - depth`` from a node that has no such tag."""

    def __init__(self, chain: Chain, *, depth: int) -> None:
        self.chain = chain
        self.depth = depth
        self._tag_works: bool | None = None  # unknown until asked once

    def head(self, *, unless: tuple[int, str] | None = None) -> Head | None:
        """The latest block and the finalized one, in two reads (latest first); None, after
        one read, when the latest block is still ``unless`` (number, hash)."""
        latest = _block(self.chain, "latest")
        if latest is None:
            raise ChainError("the node has no latest block")
        number, block_hash = _int(latest["number"]), HexBytes(latest["hash"]).to_0x_hex()
        if unless == (number, block_hash):
            return None
        return Head(
            number=number,
            hash=block_hash,
            timestamp=_int(latest["timestamp"]),
            finalized=min(self.finalized(number), number),
        )

    def finalized(self, head: int) -> int:
        """The finalized block's number (``head - depth`` from a node without the tag)."""
        fallback = max(head - self.depth, -1)
        if self._tag_works is False:
            return fallback
        try:
            block = _block(self.chain, "finalized")
        except ChainUnavailableError:
            raise
        except ChainError:  # the node refuses the tag: it has no notion of finality
            block = None
        if block is None:
            if self._tag_works is None:
                log.info("the node does not answer the finalized tag; final = %d deep", self.depth)
            self._tag_works = False
            return fallback
        self._tag_works = True
        return _int(block["number"])


class HeadWatch:
    """Polls the node's head and keeps the last answer for readers that must not block."""

    def __init__(self, chain: Chain, *, finality_depth: int) -> None:
        self.finality = Finality(chain, depth=finality_depth)
        self._lock = threading.Lock()
        self._snapshot = HeadSnapshot()
        self._reading_since: float | None = None

    def snapshot(self) -> HeadSnapshot:
        with self._lock:
            return self._snapshot

    def current(self, max_age: float) -> HeadSnapshot:
        """The snapshot if the node was asked within ``max_age`` seconds (answered or not),
        else a fresh one: readers get the watch's answer when it runs, and never an old head
        when it does not (a process without background workers)."""
        seen = self.snapshot()
        if self._reading_since is not None:
            return seen  # a read is under way (the node may hang): do not queue behind it
        if seen.attempted_at is not None and time.monotonic() - seen.attempted_at <= max_age:
            return seen
        return self.poll()

    def poll(self) -> HeadSnapshot:
        """Ask the node once; the new snapshot."""
        now = self._reading_since = time.monotonic()
        try:
            head = self.finality.head()
        except LedgerError as exc:
            with self._lock:
                self._snapshot = replace(
                    self._snapshot, reachable=False, error=exc.message, attempted_at=now
                )
                return self._snapshot
        finally:
            self._reading_since = None
        assert head is not None
        with self._lock:
            last = self._snapshot.head
            moved = last is None or (last.number, last.hash) != (head.number, head.hash)
            self._snapshot = HeadSnapshot(
                head=head,
                reachable=True,
                error=None,
                moved_at=now if moved else self._snapshot.moved_at,
                checked_at=now,
                attempted_at=now,
            )
            return self._snapshot

    def run(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        """Poll until ``stop`` is set (a background thread's body)."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception:  # never let a surprise end the watch: readiness depends on it
                log.exception("head watch: unexpected error")
            stop.wait(poll_interval)


def _block(chain: Chain, tag: str) -> dict[str, Any] | None:
    provider = chain.w3.provider
    response = chain.call(
        lambda: provider.make_request("eth_getBlockByNumber", [tag, False])  # type: ignore[arg-type]
    )
    if "error" in response:
        raise ChainError(f"eth_getBlockByNumber({tag}) failed: {response['error']}")
    result = response.get("result")
    return dict(result) if result else None


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)
