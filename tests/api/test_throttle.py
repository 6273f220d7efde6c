"""A client that keeps being refused is refused sooner (429), before its requests cost anything;
clients that are not refused, however busy, are never throttled, whoever shares their address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.throttle import ErrorBudget
from ledger.runtime import Runtime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_empties_with_errors_and_refills_with_time() -> None:
    clock = Clock()
    budget = ErrorBudget(rate=2, burst=3, clock=clock)
    for _ in range(3):
        assert budget.wait("c") == 0
        budget.charge("c")
    assert budget.wait("c") == pytest.approx(0.5)  # one error's worth at 2/s
    clock.now += 0.5
    assert budget.wait("c") == 0
    assert budget.wait("someone else") == 0


def test_a_flood_runs_into_debt_and_pays_it_back_but_not_forever() -> None:
    clock = Clock()
    budget = ErrorBudget(rate=1, burst=2, clock=clock)
    for _ in range(100):
        budget.charge("c")
    assert budget.wait("c") == pytest.approx(3)  # debt bounded at -burst: 3 s to one token


def test_the_buckets_stay_bounded() -> None:
    budget = ErrorBudget(rate=1, burst=2, max_clients=10, clock=Clock())
    for n in range(1000):
        budget.charge(f"c{n}")
    assert len(budget._buckets) <= 10


@pytest.fixture
def small_budget(runtime: Runtime) -> Iterator[TestClient]:
    settings = runtime.settings.model_copy(update={"error_rate": 0.01, "error_burst": 5})
    runtime.settings = settings
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def test_a_client_refused_again_and_again_gets_429_before_anything_else_runs(
    small_budget: TestClient, departments: dict[str, dict[str, str]], governance: dict[str, str]
) -> None:
    client = small_budget
    bad = "/v1/datasets?owner=0"
    statuses = [client.get(bad, headers=departments["a"]).status_code for _ in range(8)]
    assert statuses == [422] * 5 + [429] * 3
    throttled = client.get("/v1/datasets", headers=departments["a"])  # even a good request
    assert throttled.status_code == 429
    assert throttled.headers["content-type"] == "application/problem+json"
    assert throttled.json()["code"] == "too-many-errors"
    assert int(throttled.headers["retry-after"]) >= 1
    # Another client at the same address, never refused, is served as ever.
    assert client.get("/v1/datasets", headers=departments["b"]).status_code == 200
    assert client.get("/v1/datasets", headers=governance).status_code == 200


def test_an_anonymous_flood_of_public_reads_runs_dry_on_its_address(
    small_budget: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    client = small_budget
    assert client.get("/v1/departments/21", headers=departments["a"]).status_code == 200
    bad = {"content_hash": "0xnot-a-hash"}
    statuses = [client.post("/v1/verify", json=bad).status_code for _ in range(8)]
    assert statuses == [422] * 5 + [429] * 3
    assert client.get("/v1/departments/21").status_code == 429  # a good anonymous read too
    # A token holder at the same address is its own client.
    assert client.get("/v1/departments/21", headers=departments["a"]).status_code == 200


def test_made_up_tokens_run_dry_on_their_address_not_each_on_its_own(
    small_budget: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    client = small_budget
    assert client.get("/v1/datasets", headers=departments["a"]).status_code == 200  # accepted
    statuses = [
        client.get("/v1/datasets", headers={"Authorization": f"Bearer plk_made_up_{n}"}).status_code
        for n in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3
    # A token authentication has accepted is its own client: the address's debt is not its.
    assert client.get("/v1/datasets", headers=departments["a"]).status_code == 200


def test_successful_requests_cost_nothing(
    small_budget: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    for _ in range(50):
        assert small_budget.get("/v1/datasets", headers=departments["a"]).status_code == 200


def test_json_rpc_bodies_refused_as_a_whole_count_as_errors(small_budget: TestClient) -> None:
    # JSON-RPC answers them 200 with a -32700 error object, as nodes do; they are still the
    # client's errors, and a flood of them is throttled like any other.
    statuses = [small_budget.post("/rpc", content=b"{nope").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2


def test_probes_answer_whoever_shares_the_address_of_a_flood(small_budget: TestClient) -> None:
    for _ in range(6):
        small_budget.post("/rpc", content=b"{nope")
    assert small_budget.post("/rpc", content=b"{nope").status_code == 429
    assert small_budget.get("/healthz").status_code == 200
    assert small_budget.get("/readyz").status_code == 200
