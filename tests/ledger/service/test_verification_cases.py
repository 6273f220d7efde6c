"""Verdicts from the chain (no HTTP), and how long one holds.

A registered hash is named with its registration; an unknown one matches nothing. A verdict
made at block N is served again at later blocks until an event that concerns it: a new
registration of the same bytes, a new version or a withdrawal of its dataset, a change to its
department, an anchored batch holding the same bytes; or a reorg. Blocks that do not concern
it leave it be."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.audit import BulkVerifier
from ledger.errors import ChainUnavailableError
from ledger.hashing import Digest
from ledger.runtime import Runtime
from ledger.service import batched, datasets, departments, verification
from ledger.service.verification import VerdictCache, verify_digest
from tests.ledger.service.conftest import (
    DEPT_A,
    DEPT_B,
    GOVERNANCE,
    act,
    department,
)


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The content hashes verdicts were made for afresh (not served from the cache)."""
    calls: list[str] = []
    verify_many = BulkVerifier.verify_many

    def counting(self: BulkVerifier, digests: Any, *args: Any, **kwargs: Any) -> Any:
        calls.extend("0x" + bytes(d).hex() for d in digests)
        return verify_many(self, digests, *args, **kwargs)

    monkeypatch.setattr(BulkVerifier, "verify_many", counting)
    yield calls


def unrelated_block(runtime: Runtime, relay: Callable[[], None]) -> None:
    """A block with a registration by another department, of other bytes."""
    act(
        runtime,
        department(DEPT_B),
        datasets.register_dataset,
        datasets.NewDataset(content_hash=os.urandom(32), metadata={"title": "elsewhere"}),
    )
    relay()


def test_a_verdict_names_the_registration_and_an_unknown_hash_matches_nothing(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    verdict = verify_digest(runtime, VerdictCache(), Digest(ledger_state["content"]))
    assert verdict["matched"] and verdict["authentic"]
    assert [r["dataset_id"] for r in verdict["registrations"]] == [ledger_state["dataset"]]
    unknown = verify_digest(runtime, VerdictCache(), Digest(os.urandom(32)))
    assert unknown["matched"] is False and unknown["registrations"] == []


def test_a_catalogue_audit_reads_the_cache_but_does_not_fill_it(
    runtime: Runtime, ledger_state: dict[str, Any], made: list[str]
) -> None:
    cache = VerdictCache()
    known, unknown = Digest(ledger_state["content"]), Digest(os.urandom(32))
    kept = verify_digest(runtime, cache, known)
    assert len(cache) == 1 and made == [known.hex()]

    answers = verification.verify_digests(runtime, cache, [known, unknown, known], keep=False)

    assert [a["content_hash"] for a in answers] == [known.hex(), unknown.hex(), known.hex()]
    assert answers[0] == kept and [a["status"] for a in answers] == [
        "matched",
        "not-registered",
        "matched",
    ]
    assert made == [known.hex(), unknown.hex()]  # the kept verdict was served, not made again
    assert len(cache) == 1  # the audit's new verdict was not kept


def test_blocks_that_do_not_concern_a_verdict_leave_it_served_from_the_cache(
    runtime: Runtime,
    ledger_state: dict[str, Any],
    relay: Callable[[], None],
    made: list[str],
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    first = verify_digest(runtime, cache, digest)
    assert verify_digest(runtime, cache, digest) == first and len(made) == 1

    unrelated_block(runtime, relay)
    runtime.chain.advance_time(1)
    later = verify_digest(runtime, cache, digest)

    assert len(made) == 1  # not made again
    assert later["verified_at_block"] == runtime.chain.head()[0] > first["verified_at_block"]
    assert {**later, "verified_at_block": 0} == {**first, "verified_at_block": 0}


def test_a_kept_verdict_is_told_without_waiting_only_at_the_head_the_cache_has_followed(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    assert verification.kept_verdict(runtime, cache, digest) is None  # nothing kept yet
    made = verify_digest(runtime, cache, digest)
    assert verification.kept_verdict(runtime, cache, digest) == made

    unrelated_block(runtime, relay)
    # The head moved: the cache has not swept the new blocks, so it is not asked on the loop.
    assert verification.kept_verdict(runtime, cache, digest) is None
    later = verify_digest(runtime, cache, digest)
    assert verification.kept_verdict(runtime, cache, digest) == later

    held = threading.Event()
    release = threading.Event()

    def hold_the_chain() -> None:
        with runtime.chain.evm_lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_chain)
    holder.start()
    try:
        assert held.wait(10)
        assert verification.kept_verdict(runtime, cache, digest) is None  # would have waited
    finally:
        release.set()
        holder.join()


def test_a_kept_verdict_as_json_is_the_verdict_with_the_heads_block_and_the_size(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    assert (
        verification.kept_verdict_json(runtime, cache, digest, None, principal=GOVERNANCE) is None
    )
    made = verify_digest(runtime, cache, digest)
    unrelated_block(runtime, relay)
    later = verify_digest(runtime, cache, digest)  # kept, told at a later block

    for size in (None, 0, 1234):
        encoded = verification.kept_verdict_json(runtime, cache, digest, size, principal=GOVERNANCE)
        assert encoded is not None
        assert json.loads(encoded) == {**later, "size": size}
    assert later["verified_at_block"] > made["verified_at_block"]


def test_a_new_version_or_a_withdrawal_of_its_dataset_makes_it_again(
    runtime: Runtime,
    ledger_state: dict[str, Any],
    relay: Callable[[], None],
    made: list[str],
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    dataset_id = bytes.fromhex(ledger_state["dataset"][2:])
    verify_digest(runtime, cache, digest)
    act(
        runtime,
        department(DEPT_A),
        datasets.append_version,
        datasets.AppendVersion(dataset_id=dataset_id, content_hash=os.urandom(32), metadata={}),
    )
    relay()
    assert verify_digest(runtime, cache, digest)["registrations"][0]["history_complete"]
    assert len(made) == 2

    act(
        runtime,
        department(DEPT_A),
        datasets.withdraw_dataset,
        datasets.WithdrawDataset(dataset_id=dataset_id, reason="superseded"),
    )
    relay()
    (registration,) = verify_digest(runtime, cache, digest)["registrations"]
    assert registration["withdrawn"] is True and len(made) == 3


def test_a_key_rotation_of_its_department_makes_it_again(
    runtime: Runtime,
    ledger_state: dict[str, Any],
    relay: Callable[[], None],
    made: list[str],
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    before = verify_digest(runtime, cache, digest)
    act(runtime, GOVERNANCE, departments.rotate_key, departments.RotateKey(department_id=DEPT_A))
    relay()
    after = verify_digest(runtime, cache, digest)
    assert len(made) == 2
    # The key that authorised the registration is the one in force then, not the new one.
    key = before["registrations"][0]["department_key"]
    assert after["registrations"][0]["department_key"] == key


def test_bytes_registered_after_a_verdict_of_none_are_found(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    cache = VerdictCache()
    on_chain, in_batch = os.urandom(32), os.urandom(32)
    assert not verify_digest(runtime, cache, Digest(on_chain))["matched"]
    assert not verify_digest(runtime, cache, Digest(in_batch))["matched"]

    act(
        runtime,
        department(DEPT_A),
        datasets.register_dataset,
        datasets.NewDataset(content_hash=on_chain, metadata={"title": "late"}),
    )
    act(
        runtime,
        department(DEPT_A),
        batched.register_one,
        batched.BatchedEntry(content_hash=in_batch, metadata={"title": "late, batched"}),
    )
    runtime.batcher.flush(DEPT_A)
    relay()

    assert verify_digest(runtime, cache, Digest(on_chain))["matched"]
    assert verify_digest(runtime, cache, Digest(in_batch))["matched"]


def test_a_reorg_under_a_verdict_starts_the_cache_afresh(
    runtime: Runtime, ledger_state: dict[str, Any], made: list[str]
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    snapshot = runtime.chain.snapshot()
    runtime.chain.advance_time(1)
    verify_digest(runtime, cache, digest)  # made at a block the reorg takes away
    runtime.chain.revert(snapshot)
    runtime.chain.advance_time(2)
    runtime.chain.advance_time(1)  # another chain, longer than the one the cache saw

    verify_digest(runtime, cache, digest)

    assert len(made) == 2 and len(cache) == 1


def test_the_cache_keeps_its_capacity(runtime: Runtime, ledger_state: dict[str, Any]) -> None:
    cache = VerdictCache(capacity=2)
    for _ in range(3):
        verify_digest(runtime, cache, Digest(os.urandom(32)))
    assert len(cache) == 2


def test_a_reader_that_saw_an_older_head_leaves_the_cache_as_it_is(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    older = runtime.chain.head()
    runtime.chain.advance_time(1)
    verify_digest(runtime, cache, digest)
    newer = runtime.chain.head()

    cache.follow(runtime, older)

    assert len(cache) == 1 and cache.get(digest.hex(), newer) is not None


def test_a_sweep_the_node_cannot_answer_keeps_nothing(
    runtime: Runtime, ledger_state: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, digest = VerdictCache(), Digest(ledger_state["content"])
    verify_digest(runtime, cache, digest)
    runtime.chain.advance_time(1)

    def unreachable(*_: Any) -> set[Any]:
        raise ChainUnavailableError("the node went away")

    monkeypatch.setattr(verification, "touched", unreachable)
    with pytest.raises(ChainUnavailableError):
        verify_digest(runtime, cache, digest)
    assert len(cache) == 0
