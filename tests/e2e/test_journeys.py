"""The three journeys, end to end: the real service (``provledger serve`` in its own process)
on a real anvil node, driven over HTTP like any client would."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from api.testing import serve_process
from ledger.chain.anvil import AnvilNode, free_port
from ledger.chain.backend import Chain
from ledger.config import Settings
from ledger.runtime import service_account

pytestmark = pytest.mark.e2e


def _provledger(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("service")
    with AnvilNode() as node:
        env = {
            **os.environ,
            "PROVLEDGER_DATA_DIR": str(data_dir),
            "PROVLEDGER_RPC_URL": node.url,
            "PROVLEDGER_CHAIN_ID": str(node.chain_id),
            "PROVLEDGER_KEYSTORE_SCRYPT_N": "16",
            "PROVLEDGER_PORT": str(free_port()),
            "PROVLEDGER_RELAYER_POLL_INTERVAL": "0.05",
        }
        # The operator funds the service key on the consortium chain; here anvil does it.
        account = service_account(Settings(data_dir=data_dir, keystore_scrypt_n=16))
        Chain.rpc(node.url).fund(account.address, 10**21)
        deployed = _provledger("deploy", "--rpc", node.url, "--data-dir", str(data_dir), env=env)
        assert deployed.returncode == 0, deployed.stderr + deployed.stdout
        base = f"http://127.0.0.1:{env['PROVLEDGER_PORT']}"
        with serve_process(
            [sys.executable, "-m", "api", "serve"],
            url=base,
            env=env,
            log_path=data_dir / "serve.log",
            timeout=60,
        ):
            token = (data_dir / "governance.token").read_text().strip()
            assert (data_dir / "governance.token").stat().st_mode & 0o077 == 0
            with httpx2.Client(base_url=base, timeout=30) as client:
                yield {
                    "client": client,
                    "governance": {"Authorization": f"Bearer {token}"},
                    "rpc": node.url,
                }


def _wait(
    client: httpx2.Client, headers: dict[str, str], accepted: dict[str, Any]
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        op = client.get(f"/v1/operations/{accepted['operation_id']}", headers=headers).json()
        if op["status"] in ("confirmed", "failed"):
            return dict(op)
        time.sleep(0.05)
    raise AssertionError(f"operation {accepted['operation_id']} never settled")


def _confirmed(
    client: httpx2.Client, headers: dict[str, str], response: httpx2.Response
) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    op = _wait(client, headers, response.json())
    assert op["status"] == "confirmed", op
    return op


def test_the_three_journeys(service: dict[str, Any], tmp_path: Path) -> None:
    client, governance = service["client"], service["governance"]

    # Governance enrols two departments.
    a = client.post(
        "/v1/departments", json={"department_id": 1, "name": "Health"}, headers=governance
    )
    b = client.post(
        "/v1/departments", json={"department_id": 2, "name": "Transport"}, headers=governance
    )
    _confirmed(client, governance, a)
    _confirmed(client, governance, b)
    as_a = {"Authorization": f"Bearer {a.json()['token']}"}
    as_b = {"Authorization": f"Bearer {b.json()['token']}"}

    # A registers a file, then a version derived from it.
    original = os.urandom(200_000)
    created = client.post(
        "/v1/datasets",
        files={"file": ("admissions.csv", original)},
        data={"metadata": '{"title": "Admissions"}', "classification": "restricted"},
        headers=as_a,
    )
    created_op = _confirmed(client, as_a, created)
    dataset = created.json()["resource"]["dataset_id"]
    derived = os.urandom(100_000)
    version = client.post(
        f"/v1/datasets/{dataset}/versions",
        files={"file": ("admissions-clean.csv", derived)},
        data={"parents": f'[{{"dataset_id": "{dataset}", "version": 1}}]'},
        headers=as_a,
    )
    assert _confirmed(client, as_a, version)["result"]["version"] == 2

    # An auditor verifies the file (match) and a modified copy (no match).
    auditor = client.post("/v1/auditors", json={"label": "NAO"}, headers=governance).json()
    as_auditor = {"Authorization": f"Bearer {auditor['token']}"}
    match = client.post("/v1/verify", files={"file": ("x", original)}, headers=as_auditor).json()
    assert match["matched"] and match["authentic"]
    [registration] = match["registrations"]
    assert registration["dataset_id"] == dataset and registration["department_id"] == 1
    assert registration["tx_hash"] == created_op["chain"]["tx_hash"]
    modified = client.post(
        "/v1/verify", files={"file": ("x", original + b"\n")}, headers=as_auditor
    )
    assert modified.json()["matched"] is False

    # ... and does it again with only the chain: provledger verify against the node.
    path = tmp_path / "admissions.csv"
    path.write_bytes(original)
    contracts = client.get("/readyz").json()
    assert contracts["status"] == "ready"
    cli = subprocess.run(
        [sys.executable, "-m", "api", "verify", str(path), "--rpc", service["rpc"], "--contract",
         registration["contract"], "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert '"authentic": true' in cli.stdout

    # B requests access, A approves, B has access, A revokes, B has none.
    asked = client.post(
        f"/v1/datasets/{dataset}/access-requests",
        json={"purpose": "road-accident linkage", "duration_seconds": 30 * 86400},
        headers=as_b,
    )
    _confirmed(client, as_b, asked)
    request_id = asked.json()["resource"]["request_id"]
    access = lambda: client.get(  # noqa: E731
        f"/v1/datasets/{dataset}/access", params={"department": 2}, headers=as_b
    ).json()["has_access"]
    assert access() is False
    expires = int(time.time()) + 7 * 86400
    _confirmed(
        client,
        as_a,
        client.post(
            f"/v1/access-requests/{request_id}/approve", json={"expires_at": expires}, headers=as_a
        ),
    )
    assert access() is True
    _confirmed(
        client,
        as_a,
        client.post(f"/v1/grants/{request_id}/revoke", json={"reason": "done"}, headers=as_a),
    )
    assert access() is False

    # B cannot add a version to A's dataset, approve A's requests, or see A's operations.
    assert (
        client.post(
            f"/v1/datasets/{dataset}/versions",
            json={"content_hash": "0x" + "11" * 32},
            headers=as_b,
        ).status_code
        == 403
    )
    assert client.post(
        f"/v1/access-requests/{request_id}/approve", json={"expires_at": expires}, headers=as_b
    ).status_code in (403, 409)
    assert (
        client.get(f"/v1/operations/{created.json()['operation_id']}", headers=as_b).status_code
        == 404
    )

    # ... nor read A's restricted metadata, which A and the auditor can (once indexed); the
    # dataset's chain facts are B's to read, as they are on every node.
    deadline = time.monotonic() + 30
    while client.get(f"/v1/datasets/{dataset}", headers=as_a).status_code != 200:
        assert time.monotonic() < deadline, "the indexer never caught up"
        time.sleep(0.1)
    assert client.get(f"/v1/datasets/{dataset}", headers=as_auditor).json()["version_count"] == 2
    seen_by_b = client.get(f"/v1/datasets/{dataset}", headers=as_b).json()
    assert seen_by_b["metadata"] is None and seen_by_b["metadata_visible"] is False

    # Malformed input gets a problem document and changes nothing.
    before = client.post(
        "/v1/verify",
        json={"content_hash": "0x" + hashlib.sha256(original).hexdigest()},
        headers=as_auditor,
    ).json()
    bad = client.post(
        "/v1/datasets", json={"content_hash": "nope", "metadata": {"title": "t"}}, headers=as_a
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["type"] == "urn:provledger:problem:invalid-request"
    after = client.post(
        "/v1/verify",
        json={"content_hash": "0x" + hashlib.sha256(original).hexdigest()},
        headers=as_auditor,
    ).json()
    assert before["registrations"] == after["registrations"]
