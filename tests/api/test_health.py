"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from ledger.db import make_engine
from ledger.relayer import OperationStatus, enqueue
from ledger.runtime import Runtime


def test_healthz_answers_without_credentials(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_the_chain_and_the_database(client: TestClient, runtime: Runtime) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["checks"]["chain"]["chain_id"] == runtime.chain.chain_id
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["indexer"]["ok"] is True
    assert body["checks"]["indexer"]["lag_blocks"] >= 0


def test_readyz_reports_the_head_its_finality_and_what_is_in_flight(
    client: TestClient, runtime: Runtime
) -> None:
    body = client.get("/readyz").json()
    chain = body["checks"]["chain"]
    assert body["reasons"] == []
    assert chain["head"] == runtime.chain.w3.eth.block_number
    assert chain["finalized"] <= chain["head"]
    assert chain["head_unchanged_seconds"] >= 0 and chain["head_age_seconds"] >= 0
    assert body["checks"]["relayer"] | {"ok": True} == body["checks"]["relayer"]
    assert body["checks"]["relayer"]["in_flight"] == 0


def test_readyz_is_degraded_when_a_sent_transaction_waits_too_long(
    client: TestClient, runtime: Runtime
) -> None:
    with Session(runtime.engine) as session:
        stuck = enqueue(
            session,
            kind="departments.suspend",
            contract="DepartmentRegistry",
            function="suspendDepartment",
            args=[21, b"\0" * 32],
        )
        stuck.status = OperationStatus.SUBMITTED
        stuck.updated_at = datetime.now(UTC) - timedelta(seconds=301)
        session.commit()
    runtime.settings = runtime.settings.model_copy(update={"relayer_stuck_after": 300.0})

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["reasons"] == ["relayer-blocked"]
    assert response.json()["checks"]["relayer"]["in_flight"] == 1
    error = response.json()["checks"]["relayer"]["error"]
    assert re.fullmatch(
        r"a sent transaction has waited 30\d s \(more than 300 s\) without settling", error
    )


def test_readyz_is_degraded_when_the_head_stands_still_longer_than_blocks_allow(
    client: TestClient, runtime: Runtime
) -> None:
    """Expected every 50 ms, and none for more than two of them: stalled. The in-process chain
    mines only for transactions, so its head stands still."""
    runtime.settings = runtime.settings.model_copy(
        update={"expected_block_time": 0.05, "stall_blocks": 2}
    )
    client.get("/readyz")  # the head is seen
    time.sleep(0.2)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["reasons"] == ["head-stalled"]
    assert response.json()["checks"]["chain"]["head_unchanged_seconds"] >= 0.1


def test_readyz_is_503_when_the_database_is_gone(client: TestClient, runtime: Runtime) -> None:
    working, runtime.engine = runtime.engine, make_engine("sqlite:////nonexistent/dir/pl.db")
    try:
        response = client.get("/readyz")
    finally:
        runtime.engine.dispose()
        runtime.engine = working  # the fixture closes the real one's connections
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


def test_unknown_routes_are_problem_documents(client: TestClient) -> None:
    response = client.get("/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:provledger:problem:not-found"


def test_every_route_is_documented_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/departments",
        "/v1/datasets",
        "/v1/datasets/{dataset_id}/versions",
        "/v1/operations/{operation_id}",
        "/v1/departments/{department_id}",
        "/v1/departments/{department_id}/rotate-key",
        "/v1/access-requests",
        "/v1/access-requests/{request_id}",
        "/readyz",
    ):
        assert path in paths


def test_the_rpc_endpoint_serves_reads_and_refuses_writes(
    client: TestClient, runtime: Runtime
) -> None:
    chain_id = client.post(
        "/rpc", json={"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []}
    )
    assert chain_id.json() == {"jsonrpc": "2.0", "id": 7, "result": hex(runtime.chain.chain_id)}
    write = client.post(
        "/rpc",
        json={"jsonrpc": "2.0", "id": 8, "method": "eth_sendRawTransaction", "params": ["0x00"]},
    )
    assert write.json()["error"]["code"] == -32601
    batch = client.post(
        "/rpc", json=[{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber"} for i in range(3)]
    )
    assert [r["id"] for r in batch.json()] == [0, 1, 2]
    assert client.post("/rpc", content=b"{nope").json()["error"]["code"] == -32700


def test_rpc_calls_without_a_sender_work_and_reverts_carry_their_data(
    client: TestClient, runtime: Runtime
) -> None:
    datasets = runtime.ledger.datasets
    call = {"to": datasets.address, "data": datasets.contract.encode_abi("VERSION", [])}
    answer = client.post(
        "/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]}
    )
    assert "result" in answer.json(), answer.json()
    revert = {
        "to": datasets.address,
        "data": datasets.contract.encode_abi(
            "addVersion", ["0x" + "11" * 32, ("0x" + "22" * 32, "0x" + "00" * 32, [])]
        ),
    }
    failed = client.post(
        "/rpc", json={"jsonrpc": "2.0", "id": 2, "method": "eth_call", "params": [revert, "latest"]}
    ).json()
    assert failed["error"]["code"] == 3
    from ledger.chain.revert import decode_revert
    from ledger.errors import DepartmentUnknownSignerError

    assert isinstance(
        decode_revert(bytes.fromhex(failed["error"]["data"][2:])), DepartmentUnknownSignerError
    )
