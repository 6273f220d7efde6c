"""Verifying a hash against the chain: every registration of it, each checked on chain.

The verdict comes from the chain, never the index alone: a registration by a contract call is
read from its event and transaction (the key that authorised it, at that block); a batched one
is proven by its inclusion proof against a root the department anchored. A batched record the
chain does not vouch for (not anchored yet, or not as recorded) is not a registration.

Who sees what is :mod:`ledger.service.visibility`: a registration by a contract call is the
chain's and shown to every principal; a batched one (a record this service holds, proven under
an anchored root) only to a principal that may read its dataset. The cache keeps whole verdicts
and :func:`verdicts_for` cuts each to its reader, so a verdict made for an auditor is never
answered whole to anyone else.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from sqlmodel import Session

from ledger.anchoring.queue import anchored_candidates_of, batch_contents
from ledger.audit import BulkVerifier, ChainFacts
from ledger.hashing import Digest
from ledger.index.models import IndexDataset
from ledger.runtime import Runtime
from ledger.service.principal import Principal
from ledger.service.visibility import may_read, sees_everything
from ledger.verifier import Verdict

log = logging.getLogger(__name__)


#: What a verdict depends on: ("content", 0x-hash), ("dataset", 0x-id), ("department", "id").
Concern = tuple[str, str]


#: Keys a kept verdict's answer takes per request, so left out of its encoding.
_PER_REQUEST = ("verified_at_block", "size")


@dataclass(frozen=True, slots=True)
class _Cached:
    answer: dict[str, Any]
    concerns: frozenset[Concern]
    #: The answer as JSON without ``_PER_REQUEST`` and its closing brace, encoded once: the
    #: commonest answer of the service was re-encoding the same nested verdict every time.
    encoded_head: str
    #: Whether it holds a batched registration, which not every reader may see.
    need_to_know: bool

    @classmethod
    def of(cls, answer: dict[str, Any], concerns: set[Concern]) -> _Cached:
        fixed = {k: v for k, v in answer.items() if k not in _PER_REQUEST}
        return cls(answer, frozenset(concerns), json.dumps(fixed)[:-1], _need_to_know(answer))

    def encoded(self, block: int, size: int | None) -> str:
        separator = ", " if len(self.encoded_head) > 1 else ""
        tail = f'"verified_at_block": {block}, "size": {json.dumps(size)}}}'
        return self.encoded_head + separator + tail


class VerdictCache:
    """Verdicts by content hash, each kept until something that concerns it happens on chain.

    A verdict computed at block N says the same at every later block until an event that
    concerns it: a new registration of the same bytes, a new version or a withdrawal of one of
    its datasets, an enrolment, key rotation, suspension or reactivation of one of its
    departments, or an anchored batch that holds the same bytes or one of its datasets. So the
    cache follows the chain: whenever the head has moved, one ``eth_getLogs`` over the new
    blocks of the three registries names what they touched, and only the verdicts concerned are
    dropped (not every verdict on every block, which kept none while departments registered).
    A reorg (the block the cache last looked at is no longer canonical), a head that went back,
    or a gap too long to sweep start it afresh.
    """

    #: Blocks since the last look beyond which the cache starts afresh rather than sweeping.
    MAX_SWEEP_BLOCKS = 5_000

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, _Cached] = OrderedDict()
        self._by_concern: dict[Concern, set[str]] = {}
        self._at: tuple[int, str] | None = None  # the head every kept verdict holds at
        self._lock = threading.Lock()
        #: Chain facts that never change (authorisers, block times, anchors), for new verdicts.
        self.facts = ChainFacts()

    def follow(self, runtime: Runtime, head: tuple[int, str]) -> None:
        """Bring the cache to ``head`` (number, hash): drop what the blocks since concern."""
        with self._lock:
            at = self._at
            if at == head:
                return
            try:
                if at is not None and head[0] <= at[0] and _block_hash(runtime, at[0]) == at[1]:
                    return  # a reader that saw an older head: the cache is already past it
                if at is None or head[0] > at[0] + self.MAX_SWEEP_BLOCKS or head[0] <= at[0]:
                    self._clear()  # nothing to sweep from, too far to sweep, or reorged
                elif _block_hash(runtime, at[0]) != at[1]:
                    self._clear()  # reorged under the cache
                else:
                    for concern in touched(runtime, at[0] + 1, head[0]):
                        for digest in self._by_concern.pop(concern, set()):
                            self._drop(digest)
            except BaseException:
                # The sweep did not finish (the node went away): nothing kept can be vouched for.
                self._clear()
                self._at = None
                raise
            self._at = head

    def get(
        self, digest: str, head: tuple[int, str], *, wait: bool = True
    ) -> dict[str, Any] | None:
        """The verdict for ``digest`` if one holds at ``head`` (the cache must follow it).
        ``wait=False`` (the event loop) answers None rather than wait for a sweep under way."""
        found = self._kept(digest, head, wait=wait)
        return None if found is None else found.answer

    def get_json(
        self,
        digest: str,
        head: tuple[int, str],
        size: int | None,
        *,
        wait: bool = True,
        whole: bool = True,
    ) -> str | None:
        """:meth:`get`'s answer as ``POST /v1/verify`` sends it, with ``size`` and the head's
        block number, or None. ``whole=False`` (a reader who may not see every batched
        registration): None for a verdict that holds one, which must be cut to the reader."""
        found = self._kept(digest, head, wait=wait)
        if found is None or (found.need_to_know and not whole):
            return None
        return found.encoded(head[0], size)

    def _kept(self, digest: str, head: tuple[int, str], *, wait: bool) -> _Cached | None:
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            if self._at != head:
                return None
            found = self._entries.get(digest)
            if found is not None:
                self._entries.move_to_end(digest)
            return found
        finally:
            self._lock.release()

    def put(
        self, digest: str, answer: dict[str, Any], concerns: set[Concern], at: tuple[int, str]
    ) -> None:
        """Keep a verdict computed at ``at``, if the cache is still there (had it moved on, the
        blocks between were swept without this verdict: it is not kept, the next ask makes it
        again)."""
        with self._lock:
            if self._at != at:
                return
            self._drop(digest)
            self._entries[digest] = _Cached.of(answer, concerns)
            for concern in concerns:
                self._by_concern.setdefault(concern, set()).add(digest)
            while len(self._entries) > self.capacity:
                self._drop(next(iter(self._entries)))

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, digest: str) -> None:
        cached = self._entries.pop(digest, None)
        if cached is None:
            return
        for concern in cached.concerns:
            holders = self._by_concern.get(concern)
            if holders is not None:
                holders.discard(digest)
                if not holders:
                    del self._by_concern[concern]

    def _clear(self) -> None:
        self._entries.clear()
        self._by_concern.clear()


def touched(runtime: Runtime, first: int, last: int) -> set[Concern]:
    """What the registries' events in blocks ``first..last`` concern (read from the chain)."""
    ledger = runtime.ledger
    registries = [
        ledger.datasets,
        ledger.departments,
        *([ledger.anchors] if ledger.anchors else []),
    ]
    logs = runtime.chain.call(
        lambda: runtime.chain.w3.eth.get_logs(
            {"address": [r.address for r in registries], "fromBlock": first, "toBlock": last}
        )
    )
    concerns: set[Concern] = set()
    roots: list[str] = []
    for entry in logs:
        topics = ["0x" + bytes(t).hex() for t in entry["topics"]]
        name = next((n for r in registries if (n := r.event_name(entry)) is not None), None)
        if name == "VersionAdded":
            concerns |= {("dataset", topics[1]), ("content", topics[2])}
        elif name in ("DatasetCreated", "DatasetWithdrawn"):
            concerns.add(("dataset", topics[1]))
        elif name is not None and name.startswith("Department"):
            concerns.add(("department", str(int(topics[1], 16))))
        elif name == "BatchAnchored":
            roots.append(topics[1])
    if roots:  # a batch's records are known here only: which bytes and datasets it anchors
        with Session(runtime.engine) as session:
            for content_hash, dataset_id in batch_contents(session, roots):
                concerns |= {("content", content_hash), ("dataset", dataset_id)}
    return concerns


def _block_hash(runtime: Runtime, number: int) -> str:
    block = runtime.chain.call(lambda: runtime.chain.w3.eth.get_block(number))
    return HexBytes(block["hash"]).to_0x_hex()


def kept_verdict(runtime: Runtime, cache: VerdictCache, digest: Digest) -> dict[str, Any] | None:
    """The verdict of ``digest`` if the cache holds one at the current head and that can be
    told without waiting (on the event loop: no thread hop for the commonest answer); None
    means ask :func:`verify_digest` on a worker thread."""
    head = runtime.chain.head_if_free()
    if head is None:
        return None
    # None unless the cache has followed to this head, and if a sweep holds it right now.
    cached = cache.get(digest.hex(), head, wait=False)
    return None if cached is None else {**cached, "verified_at_block": head[0]}


def kept_verdict_json(
    runtime: Runtime,
    cache: VerdictCache,
    digest: Digest,
    size: int | None,
    *,
    principal: Principal,
) -> str | None:
    """:func:`kept_verdict` as the JSON ``POST /v1/verify`` answers ``principal``, with the
    upload's ``size`` (None for a hash), encoded when the verdict was kept. None, too, when the
    verdict holds a batched registration and ``principal`` may not see every one: telling which
    it may see reads the index, which is not for the event loop (ask :func:`verdicts_for`)."""
    head = runtime.chain.head_if_free()
    if head is None:
        return None
    whole = sees_everything(principal)
    return cache.get_json(digest.hex(), head, size, wait=False, whole=whole)


#: Hashes one bulk verification may ask about (``POST /v1/verify/batch``).
MAX_BATCH_HASHES = 10_000


def verify_digest(runtime: Runtime, cache: VerdictCache, digest: Digest) -> dict[str, Any]:
    """The verdict for ``digest`` at the chain's head (on a worker thread: it waits on the node
    for most of its time, and the event loop keeps serving meanwhile)."""
    return verify_digests(runtime, cache, [digest])[0]


def verify_digests(
    runtime: Runtime, cache: VerdictCache, digests: Sequence[Digest], *, keep: bool = True
) -> list[dict[str, Any]]:
    """The verdict of each of ``digests``, in order: cached ones as kept, the others computed
    together (:class:`~ledger.audit.BulkVerifier`: the chain read in a few batches for all).

    ``keep=False`` (a catalogue audit) leaves the new verdicts out of the cache: thousands of
    one-off answers would push out the verdicts auditors ask for again and again."""
    at = runtime.chain.head()
    cache.follow(runtime, at)
    answers: dict[str, dict[str, Any]] = {}
    missing: dict[str, None] = {}  # in order, each once
    for digest in digests:
        key = digest.hex()
        if key in answers or key in missing:
            continue
        if (cached := cache.get(key, at)) is not None:
            answers[key] = {**cached, "verified_at_block": at[0]}  # nothing concerning it since
        else:
            missing[key] = None
    if missing:
        with Session(runtime.engine) as session:
            candidates = anchored_candidates_of(session, list(missing))
        verifier = BulkVerifier.for_ledger(runtime.ledger, runtime.json_rpc, facts=cache.facts)
        audit = verifier.verify_many(
            [bytes.fromhex(key[2:]) for key in missing], candidates, block=at[0]
        )
        for key, verdict in zip(missing, audit.verdicts, strict=True):
            answer = {
                **verdict.to_dict(),
                "status": verdict.status,
                "verified_at_block": audit.block_number,
            }
            answers[key] = answer
            if not keep:
                continue
            # Kept as of the head read before it was made: if the chain moved while it was
            # made, the next sweep starts from that head, so an event that concerns it is not
            # missed.
            concerns: set[Concern] = {("content", key)}
            for registration in verdict.registrations:
                concerns |= {
                    ("dataset", registration.dataset_id),
                    ("department", str(registration.department_id)),
                }
            cache.put(key, answer, concerns, at)
    return [answers[digest.hex()] for digest in digests]


def verdicts_for(
    runtime: Runtime,
    cache: VerdictCache,
    principal: Principal,
    digests: Sequence[Digest],
    *,
    keep: bool = True,
) -> list[dict[str, Any]]:
    """:func:`verify_digests` as ``principal`` may see them: a batched registration only if it
    may read its dataset (:func:`~ledger.service.visibility.may_read`; the anonymous reader
    never), with ``matched``, ``authentic`` and ``status`` told of what is left, so a verdict
    says nothing of what was left out. Registrations by contract call are the chain's and
    shown to everyone."""
    answers = verify_digests(runtime, cache, digests, keep=keep)
    if sees_everything(principal) or not any(_need_to_know(a) for a in answers):
        return answers
    with Session(runtime.engine) as session:
        readable = _ReadableBatches(session, runtime, principal)
        return [_cut(answer, readable) for answer in answers]


def _need_to_know(answer: dict[str, Any]) -> bool:
    return any(r.get("anchor") is not None for r in answer["registrations"])


class _ReadableBatches:
    """Whether a principal may see a batched registration, by dataset, asked once each."""

    def __init__(self, session: Session, runtime: Runtime, principal: Principal) -> None:
        self.session, self.runtime, self.principal = session, runtime, principal
        self._seen: dict[str, bool] = {}

    def __call__(self, registration: dict[str, Any]) -> bool:
        dataset_id = registration["dataset_id"]
        if dataset_id not in self._seen:
            row = self.session.get(IndexDataset, dataset_id)
            self._seen[dataset_id] = (
                may_read(self.session, self.runtime, self.principal, row)
                if row is not None
                # Not indexed yet: only its department (a batched record's is its owner).
                else self.principal.department_id == registration["department_id"]
            )
        return self._seen[dataset_id]


def _cut(answer: dict[str, Any], readable: _ReadableBatches) -> dict[str, Any]:
    shown = [r for r in answer["registrations"] if r.get("anchor") is None or readable(r)]
    if len(shown) == len(answer["registrations"]):
        return answer
    verdict = Verdict.from_dict({**answer, "registrations": shown})
    return {
        **answer,
        "matched": verdict.matched,
        "authentic": verdict.authentic,
        "status": verdict.status,
        "registrations": shown,
    }
