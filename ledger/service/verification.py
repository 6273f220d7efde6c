"""Verifying a hash against the chain: every registration of it, each checked on chain.

The verdict comes from the chain, never the index alone: a registration by a contract call is
read from its event and transaction (the key that authorised it, at that block); a batched one
is proven by its inclusion proof against a root the department anchored. A batched record the
chain does not vouch for (not anchored yet, or not as recorded) is not a registration.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from sqlmodel import Session

from ledger.anchoring.queue import anchored_candidates
from ledger.errors import InvalidProofError
from ledger.hashing import Digest
from ledger.runtime import Runtime
from ledger.verifier import Verifier

log = logging.getLogger(__name__)


class VerdictCache:
    """Verdicts by (content hash, head block hash), the last ``capacity`` of them.

    A verdict is a function of the chain at one block, and a block hash fixes the whole chain
    up to it, so a verdict cached under the current head's hash is exactly what a fresh one
    would say. Every request still reads the head from the node; a new block or a reorg changes
    the key. Only a verdict during whose making the head did not move is kept.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], answer: dict[str, Any]) -> None:
        with self._lock:
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


def verify_digest(runtime: Runtime, cache: VerdictCache, digest: Digest) -> dict[str, Any]:
    """The verdict for ``digest`` at the chain's head (on a worker thread: it waits on the node
    for most of its time, and the event loop keeps serving meanwhile)."""
    number, head = runtime.chain.head()
    key = (digest.hex(), head)
    if (cached := cache.get(key)) is not None:
        return cached
    verifier = Verifier.for_ledger(runtime.ledger)
    verdict = verifier.verify(digest)
    with Session(runtime.engine) as session:
        candidates = anchored_candidates(session, digest.hex())
    for candidate in candidates:
        try:
            verdict.registrations.append(
                verifier.verify_anchored(
                    candidate.record,
                    candidate.proof,
                    candidate.root,
                    withdrawn=candidate.withdrawn,
                )
            )
        except InvalidProofError as exc:
            # Not anchored yet (or not as recorded): the chain does not vouch for it, so it is
            # not a registration. Never answered from our records alone.
            log.info("verify: batched record of %s not proven: %s", digest, exc)
    verdict.registrations.sort(
        key=lambda r: (r.block_number, r.log_index, (r.anchor or {}).get("leaf_index", 0))
    )
    answer = {**verdict.to_dict(), "verified_at_block": number}
    # Registrations are only ever added, so "none" read at any later head was also true at
    # this one; a verdict that found some is kept only if the head did not move meanwhile.
    if not verdict.registrations or runtime.chain.head()[1] == head:
        cache.put(key, answer)
    return answer
