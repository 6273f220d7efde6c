"""Path and query parameters are bounded where they are declared: a value out of range or of
the wrong shape is a 422 naming the parameter, never an overflow deep in SQL or ABI encoding
(which answered 500 and dropped the keep-alive connection)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledger.runtime import Runtime

DATASET = "0x" + "ab" * 32
HUGE = str(2**70)


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (f"/v1/datasets?owner={HUGE}", ["query", "owner"]),
        ("/v1/datasets?owner=0", ["query", "owner"]),
        (f"/v1/datasets/{DATASET}/versions/{HUGE}", ["path", "number"]),
        (f"/v1/datasets/{DATASET}/versions/0", ["path", "number"]),
        (f"/v1/datasets/{DATASET}/lineage?version={HUGE}", ["query", "version"]),
        (f"/v1/datasets/{DATASET}/access?department=-1", ["query", "department"]),
        (f"/v1/datasets/{DATASET}/access?department=2&block={HUGE}", ["query", "block"]),
        (f"/v1/audit/events?from_block={HUGE}", ["query", "from_block"]),
        (f"/v1/audit/events?to_block={HUGE}", ["query", "to_block"]),
        (f"/v1/audit/events?department={HUGE}", ["query", "department"]),
        ("/v1/audit/events?dataset=0x12", ["query", "dataset"]),
        ("/v1/audit/events?kind=" + "A" * 65, ["query", "kind"]),
        (f"/v1/departments/{2**64}", ["path", "department_id"]),
        ("/v1/datasets/0x12", ["path", "dataset_id"]),
        ("/v1/access-requests/not-an-id", ["path", "request_id"]),
        ("/v1/access-requests?dataset=nope", ["query", "dataset"]),
        ("/v1/operations/op_nope", ["path", "operation_id"]),
        ("/v1/datasets?cursor=" + "x" * 600, ["query", "cursor"]),
    ],
)
def test_an_out_of_range_or_malformed_parameter_is_a_422_naming_it(
    client: TestClient, departments: dict[str, dict[str, str]], path: str, where: list[str]
) -> None:
    response = client.get(path, headers=departments["a"])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid-request"
    assert problem["errors"][0]["location"] == where
    assert problem["detail"].startswith(".".join(where) + ": ")


def test_a_malformed_id_is_described_in_words_not_as_a_regular_expression(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    problem = client.get("/v1/datasets/0x12", headers=departments["a"]).json()
    assert problem["detail"] == "path.dataset_id: must be 0x followed by 64 hex digits"


def test_a_cursor_with_a_huge_number_is_refused_not_sent_to_the_database(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    huge = f"{2**70}.0.0x{'ab' * 32}"
    response = client.get(f"/v1/datasets?cursor={huge}", headers=departments["a"])
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == ["query", "cursor"]


def test_any_cursor_of_the_right_shape_is_a_position_to_page_from(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    # Pagination is no boundary: a made-up position just pages from there.
    made_up = f"0.0.0x{'ab' * 32}"
    page = client.get(f"/v1/datasets?cursor={made_up}", headers=departments["a"])
    assert page.status_code == 200 and page.json()["items"] == []


def test_a_block_beyond_the_head_is_not_found_rather_than_a_chain_error(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    response = client.get(
        f"/v1/datasets/{DATASET}/access?department=21&block={2**40}", headers=departments["a"]
    )
    assert response.status_code == 404
    assert "is not mined yet" in response.json()["detail"]


def test_a_block_before_the_deployment_is_not_found_without_asking_the_node(
    client: TestClient, departments: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    """A node that prunes history (anvil, any non-archive node) refuses state that old: the
    answer must not depend on it."""
    before = runtime.ledger.deployment.start_block - 1
    if before < 0:
        pytest.skip("this deployment record starts at genesis: no block is before it")
    response = client.get(
        f"/v1/datasets/{DATASET}/access?department=21&block={before}", headers=departments["a"]
    )
    assert response.status_code == 404
    assert "did not exist yet" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/v1/departments/{2**64}/suspend"),
        ("POST", f"/v1/datasets/{DATASET[:-2]}/withdraw"),
        ("POST", "/v1/access-requests/0x00/approve"),
        ("POST", "/v1/tokens/abc/revoke"),
    ],
)
def test_writes_bound_their_path_parameters_too(
    client: TestClient, governance: dict[str, str], method: str, path: str
) -> None:
    response = client.request(method, path, json={}, headers=governance)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"][0] == "path"
