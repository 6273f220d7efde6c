"""The service survives its chain, drilled end to end: ``python -m api serve`` on an anvil node
of its own that mines a block a second, K = 3, a department registering a dataset every half
second throughout, and the node broken under it (``bench/faults.py`` runs the same drills at full
length and prints how long each took to settle).

After every drill: each acknowledged write ended confirmed exactly once on the canonical chain or
failed with a named reason, none is confirmed without its receipt, the service's account has no
nonce gap and nothing waits in the node's queue, the index equals a fresh index of the chain, and
no answer was a 5xx other than 503.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ledger.compiler import project_root

sys.path.insert(0, str(project_root() / "bench"))

import faults

K = faults.K

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _default_pass_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--chain") == "anvil":
        pytest.skip("runs nodes of its own; the default pass covers it")


def drill(name: str, tmp_path: Path, **lengths: float) -> faults.Report:
    report = faults.run_drill(
        name,
        tmp_path,
        interval=0.5,
        outage=lengths.get("outage", 8.0),
        pause=lengths.get("pause", 10.0),
    )
    assert report.violations == [], report
    assert report.acknowledged > 0 and sum(report.outcomes.values()) == report.acknowledged
    return report


@pytest.mark.parametrize("depth", [1, K, K + 2])
def test_a_reorg_of_any_depth_leaves_every_write_confirmed_exactly_once(
    tmp_path: Path, depth: int
) -> None:
    report = drill(f"reorg-{depth}", tmp_path)
    if depth > K:
        assert report.reorged > 0  # confirmed writes were undone, sent again, confirmed again


def test_a_rollback_deeper_than_k_is_recovered(tmp_path: Path) -> None:
    report = drill(f"rollback-{K + 2}", tmp_path)
    assert report.reorged > 0


@pytest.mark.parametrize("lost", [0, 2, 5])
def test_a_node_killed_and_restarted_without_its_last_blocks(tmp_path: Path, lost: int) -> None:
    drill(f"kill-{lost}", tmp_path)


def test_writes_during_an_outage_are_queued_and_confirmed_when_the_node_is_back(
    tmp_path: Path,
) -> None:
    report = drill("outage", tmp_path, outage=8.0)
    assert report.during_fault > 0 and report.deferred == report.during_fault
    assert "degraded (chain-unreachable)" in report.readiness
    assert report.reads_while_down  # every read answered, none with a 5xx but 503
    assert all(s < 500 or s == 503 for s in report.reads_while_down.values())
    assert report.reads_while_down["GET /v1/datasets"] == 200  # from the index
    # An operation is read from the outbox, with "chain_available": false.
    assert report.reads_while_down["GET /v1/operations/{operation_id}"] == 200


def test_a_stalled_head_makes_the_service_degraded_until_blocks_come_again(
    tmp_path: Path,
) -> None:
    report = drill("pause", tmp_path, pause=faults.STALL_BLOCKS * faults.BLOCK_TIME + 6.0)
    assert "degraded (head-stalled)" in report.readiness
