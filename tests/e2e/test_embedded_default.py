"""The embedded default: ``provledger serve`` with no chain or database configured keeps every
acknowledged write across ``kill -9`` and restarts, with its state in the data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from api.testing import clean_environment, serve_process
from ledger.chain.anvil import free_port

pytestmark = pytest.mark.e2e


@contextmanager
def serve(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    with serve_process(
        [sys.executable, "-m", "api", "serve"],
        url=f"http://127.0.0.1:{port}",
        env=clean_environment(DATA_DIR=str(data_dir), PORT=str(port)),
        log_path=data_dir.parent / f"serve-{port}-{time.monotonic_ns()}.log",
        timeout=90,
    ) as process:
        yield process


def test_acknowledged_writes_survive_kill_9_and_restart(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(data_dir, port) as process:
        token = (data_dir / "governance.token").read_text().strip()
        governance = {"Authorization": f"Bearer {token}"}
        enrolled = httpx2.post(
            f"{base}/v1/departments",
            json={"department_id": 1, "name": "Health"},
            headers=governance,
            timeout=30,
        )
        assert enrolled.status_code == 202
        department = {"Authorization": f"Bearer {enrolled.json()['token']}"}
        acknowledged = []
        for _ in range(8):
            response = httpx2.post(
                f"{base}/v1/datasets",
                json={"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": "t"}},
                headers=department,
                timeout=30,
            )
            assert response.status_code == 202, response.text
            acknowledged.append(response.json())
        os.kill(process.pid, signal.SIGKILL)  # no chance to flush or finish anything
        process.wait()

    with serve(data_dir, port):
        deadline = time.monotonic() + 60
        pending = {a["operation_id"] for a in acknowledged}
        while pending and time.monotonic() < deadline:
            for op_id in list(pending):
                op = httpx2.get(
                    f"{base}/v1/operations/{op_id}", headers=department, timeout=30
                ).json()
                assert op["status"] != "failed", op
                if op["status"] == "confirmed":
                    pending.discard(op_id)
            time.sleep(0.2)
        assert not pending, f"never confirmed after restart: {pending}"
        for accepted in acknowledged:
            content = accepted["resource"]["content_hash"]
            verdict = httpx2.post(
                f"{base}/v1/verify", json={"content_hash": content}, headers=governance, timeout=30
            ).json()
            assert verdict["authentic"], verdict
        # An auditor with only the RPC endpoint and the contract address gets the same answer.
        import json

        contract = json.loads((data_dir / "deployment.json").read_text())["dataset_registry"]
        content = acknowledged[0]["resource"]["content_hash"]
        cli = subprocess.run(
            [sys.executable, "-m", "api", "verify", "--hash", content,
             "--rpc", f"{base}/rpc", "--contract", contract, "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert '"authentic": true' in cli.stdout
    assert (data_dir / "governance.token").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in data_dir.iterdir()) >= [
        "chain",
        "deployment.json",
        "governance.token",
    ]


def _index_dump(database: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every index table, sorted: what ``reindex`` must rebuild exactly."""
    import sqlite3

    with sqlite3.connect(database) as db:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'index_%'"
            )
        ]
        dump = {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    db.close()
    return dump


def test_reindex_rebuilds_the_same_index_and_refuses_while_the_service_runs(
    tmp_path: Path,
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVLEDGER_")}
    env |= {"PROVLEDGER_DATA_DIR": str(data_dir)}

    def reindex() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api", "reindex"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    with serve(data_dir, port):
        governance = {
            "Authorization": f"Bearer {(data_dir / 'governance.token').read_text().strip()}"
        }
        enrolled = httpx2.post(
            f"{base}/v1/departments",
            json={"department_id": 7, "name": "Transport"},
            headers=governance,
            timeout=30,
        ).json()
        department = {"Authorization": f"Bearer {enrolled['token']}"}
        datasets = []
        for n in range(3):
            accepted = httpx2.post(
                f"{base}/v1/datasets",
                json={"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": f"{n}"}},
                headers=department,
                timeout=30,
            ).json()
            datasets.append(accepted["resource"]["dataset_id"])
        deadline = time.monotonic() + 90
        for dataset in datasets:  # confirmed and indexed
            while (
                httpx2.get(f"{base}/v1/datasets/{dataset}", headers=department).status_code != 200
            ):
                assert time.monotonic() < deadline, "the indexer never caught up"
                time.sleep(0.2)

        busy = reindex()  # the chain and database belong to the running service
        assert busy.returncode != 0
        assert "error: chain-unavailable:" in busy.stderr and "in use" in busy.stderr, busy.stderr

    before = _index_dump(data_dir / "provledger.db")
    assert any(rows for rows in before.values())
    rebuilt = reindex()
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert _index_dump(data_dir / "provledger.db") == before
