"""Verdicts from the chain (no HTTP): a registered hash is named with its registration, the same
question at the same head is answered from the cache, an unknown hash matches nothing,
a withdrawn dataset is still a registration that says so, and a new block asks again."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ledger.hashing import Digest
from ledger.runtime import Runtime
from ledger.service import datasets
from ledger.service.verification import VerdictCache, verify_digest
from tests.ledger.service.conftest import DEPT_A, act, department


def test_a_verdict_names_the_registration_and_is_served_again_from_the_cache(
    runtime: Runtime, ledger_state: dict[str, Any]
) -> None:
    cache = VerdictCache(capacity=8)
    digest = Digest(ledger_state["content"])
    verdict = verify_digest(runtime, cache, digest)
    assert verdict["matched"] and verdict["authentic"]
    assert [r["dataset_id"] for r in verdict["registrations"]] == [ledger_state["dataset"]]
    assert verify_digest(runtime, cache, digest) is verdict  # same head: the cached answer
    unknown = verify_digest(runtime, cache, Digest(os.urandom(32)))
    assert unknown["matched"] is False and unknown["registrations"] == []


def test_a_withdrawn_dataset_is_still_a_registration_and_says_it_is_withdrawn(
    runtime: Runtime, ledger_state: dict[str, Any], relay: Callable[[], None]
) -> None:
    dataset_id = bytes.fromhex(ledger_state["dataset"][2:])
    act(
        runtime,
        department(DEPT_A),
        datasets.withdraw_dataset,
        datasets.WithdrawDataset(dataset_id=dataset_id, reason="superseded"),
    )
    relay()
    verdict = verify_digest(runtime, VerdictCache(), Digest(ledger_state["content"]))
    (registration,) = verdict["registrations"]
    assert registration["dataset_id"] == ledger_state["dataset"]
    assert registration["withdrawn"] is True


def test_a_new_block_is_a_new_question(runtime: Runtime, ledger_state: dict[str, Any]) -> None:
    cache = VerdictCache(capacity=8)
    digest = Digest(ledger_state["content"])
    before = verify_digest(runtime, cache, digest)
    runtime.chain.advance_time(1)  # one more block
    after = verify_digest(runtime, cache, digest)
    assert after is not before and after["registrations"] == before["registrations"]
