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
import time
from contextlib import ExitStack
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
    assert report.noticed_after is not None and report.noticed_after < 5
    assert report.reads_while_down["GET /v1/datasets"] == 200  # from the index
    unmarked = [read for read in report.reads_while_down if "no Provledger-Chain" in read]
    assert unmarked == []  # every answer under /v1 said the chain is unavailable
    # An operation is read from the outbox, with "chain_available": false.
    assert report.reads_while_down["GET /v1/operations/{operation_id}"] == 200


def test_a_stalled_head_makes_the_service_degraded_until_blocks_come_again(
    tmp_path: Path,
) -> None:
    report = drill("pause", tmp_path, pause=faults.STALL_BLOCKS * faults.BLOCK_TIME + 6.0)
    assert "degraded (head-stalled)" in report.readiness


def test_a_write_deferred_through_an_outage_is_refused_by_name_when_its_checks_fail_then(
    tmp_path: Path,
) -> None:
    """Two registrations with the same salt while the node is down: both are accepted (their
    checks need the chain); when it is back the first creates the dataset and the second is
    refused as it would have been at once, and its operation says so."""
    with ExitStack() as stack:
        service = faults.Service(stack, tmp_path)
        service.node.rpc("evm_setIntervalMining", 0)
        service.node.kill()
        body = {
            "content_hash": "0x" + "44" * 32,
            "metadata": {"title": "twice"},
            "salt": "0x" + "55" * 32,
        }
        first = service.client.post("/v1/datasets", json=body)
        second = service.client.post(
            "/v1/datasets", json={**body, "content_hash": "0x" + "66" * 32}
        )
        assert [first.status_code, second.status_code] == [202, 202]
        assert first.json()["deferred"] is True and first.json()["status"] == "pending"
        deadline = time.monotonic() + 5  # the head watch notices within a poll or two
        while True:
            pending = service.get(f"/v1/operations/{second.json()['operation_id']}").json()
            if not pending["chain_available"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert pending["status"] == "pending" and pending["chain_available"] is False

        service.node.restart(service.node.save_path)
        views = service.settle([first.json()["operation_id"], second.json()["operation_id"]], 60)

    created, refused = views.values()
    assert created["status"] == "confirmed" and created["id"] == first.json()["operation_id"]
    assert created["result"]["salt"] == body["salt"]
    assert refused["status"] == "failed" and refused["id"] == second.json()["operation_id"]
    assert refused["error"]["code"] == "conflict"
    assert "exists already" in refused["error"]["message"]


def test_an_operator_may_refuse_writes_while_the_node_is_down(tmp_path: Path) -> None:
    with ExitStack() as stack:
        service = faults.Service(stack, tmp_path, {"PROVLEDGER_OUTAGE_WRITES": "refuse"})
        service.node.kill()
        body = {"content_hash": "0x" + "77" * 32, "metadata": {"title": "refused"}}
        refused = service.client.post("/v1/datasets", json=body)
        service.node.restart(service.node.save_path)
        accepted = service.client.post("/v1/datasets", json=body)

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "chain-unavailable"
    assert accepted.status_code == 202 and "deferred" not in accepted.json()
