"""The service under measurement, shared by the benchmarks that drive it over HTTP.

``prepare_anvil`` starts anvil and deploys the contracts with the service's own key;
``serve`` runs a server process (``python -m api serve`` of this checkout, or any other command
that honours ``PROVLEDGER_PORT``) on a free loopback port until ``/readyz`` answers;
``enrol_department`` enrols one department through the API and returns its token.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

# This checkout's packages, not an installed copy (python puts bench/, not the root, on the path).
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx2  # noqa: E402

from api.testing import clean_environment, serve_process  # noqa: E402
from ledger.chain.anvil import AnvilNode, free_port  # noqa: E402
from ledger.chain.backend import Chain  # noqa: E402
from ledger.chain.deploy import Ledger  # noqa: E402
from ledger.config import Settings  # noqa: E402
from ledger.runtime import service_account  # noqa: E402


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of durations in seconds, as milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": at(1.0)}


def prepare_anvil(
    stack: ExitStack, data_dir: Path, *, extra_args: tuple[str, ...] = ()
) -> tuple[dict[str, str], Ledger]:
    """Start anvil and deploy the contracts with the service's key; the service's env and the
    deployed ledger (for benchmarks that also talk to the chain directly)."""
    node = stack.enter_context(AnvilNode(extra_args=extra_args))
    settings = Settings(data_dir=data_dir, rpc_url=node.url, chain_id=node.chain_id)
    account = service_account(settings)  # the keystore the service will unlock
    chain = Chain.rpc(node.url, expected_chain_id=node.chain_id)
    chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**24)])
    ledger = Ledger.deploy(chain, account)
    settings.resolved_deployment_file.write_text(ledger.deployment.to_json() + "\n")
    env = {"PROVLEDGER_RPC_URL": node.url, "PROVLEDGER_CHAIN_ID": str(node.chain_id)}
    return env, ledger


@contextmanager
def serve(
    data_dir: Path, extra_env: dict[str, str], command: Sequence[str] = ("-m", "api", "serve")
) -> Iterator[tuple[str, int]]:
    """``python <command>`` on a free loopback port, until /readyz answers; (url, pid)."""
    port = free_port()
    env = clean_environment(DATA_DIR=str(data_dir), PORT=str(port)) | extra_env
    data_dir.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    with serve_process(
        [sys.executable, *command],
        url=base,
        env=env,
        log_path=data_dir.parent / f"serve-{port}.log",
        cwd=REPO,
        timeout=180,
    ) as process:
        yield base, process.pid


def confirm(client: httpx2.Client, op_id: str, poll: float, timeout: float = 300) -> None:
    """Poll ``GET /v1/operations/{op_id}`` until it is confirmed; raise if it fails or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = client.get(f"/v1/operations/{op_id}").json()
        if op["status"] == "confirmed":
            return
        if op["status"] == "failed":
            raise RuntimeError(f"operation failed: {op}")
        time.sleep(poll)
    raise RuntimeError(f"operation {op_id} not confirmed within {timeout} s")


def settle(client: httpx2.Client, op_ids: list[str], poll: float, timeout: float) -> Counter[str]:
    """Wait until every operation is confirmed or failed (in turn: they settle roughly in
    order); how many ended in each status, failures by error code ("failed: <code>"), and
    "pending"/"submitted" for those left at ``timeout``."""
    deadline = time.monotonic() + timeout
    statuses: Counter[str] = Counter()
    for op_id in op_ids:
        while True:
            op = client.get(f"/v1/operations/{op_id}").json()
            if op["status"] == "failed":
                statuses[f"failed: {(op.get('error') or {}).get('code')}"] += 1
                break
            if op["status"] == "confirmed" or time.monotonic() > deadline:
                statuses[op["status"]] += 1
                break
            time.sleep(poll)
    return statuses


def enrol_department(base: str, data_dir: Path, department_id: int = 1, poll: float = 0.02) -> str:
    """Enrol ``department_id`` with the governance token the service wrote; its bearer token."""
    governance = (data_dir / "governance.token").read_text().strip()
    with httpx2.Client(base_url=base, timeout=60) as gov:
        gov.headers["Authorization"] = f"Bearer {governance}"
        enrolled = gov.post(
            "/v1/departments", json={"department_id": department_id, "name": "Bench"}
        )
        if enrolled.status_code != 202:
            raise RuntimeError(f"enrol: {enrolled.status_code} {enrolled.text}")
        confirm(gov, enrolled.json()["operation_id"], poll)
    return str(enrolled.json()["token"])


def vm_hwm_mib(pid: int) -> float:
    """Peak resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
