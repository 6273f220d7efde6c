"""Standard Ethereum tools nobody here wrote read the ledger through ``/rpc`` of the embedded
default (``provledger serve``, what ``make run`` serves): foundry's ``cast``, web3.py and ethers
find a registration by content hash with ``eth_getLogs``, call the registries' views, and read
blocks, transactions, receipts and proofs. The service runs with ``PROVLEDGER_RPC_ACCESS=token``,
so every client also shows how it sends the bearer token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.logs import DISCARD

from api.testing import clean_environment, serve_process
from ledger.chain.anvil import free_port
from ledger.chain.embedded import EMBEDDED_CHAIN_ID
from ledger.compiler import project_root

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
VERSION_ADDED = "VersionAdded(bytes32,bytes32,uint64,uint32,bytes32,(bytes32,uint32)[],bytes32)"
VERSION_ADDED_INDEXED = (
    "VersionAdded(bytes32 indexed,bytes32 indexed,uint64 indexed,uint32,bytes32,"
    "(bytes32,uint32)[],bytes32)"
)


def cast_binary() -> Path:
    """Where cast is: ``PROVLEDGER_CAST``, the pinned npm package, or PATH (as anvil_binary)."""
    configured = os.environ.get("PROVLEDGER_CAST")
    if configured:
        return Path(configured)
    bundled = project_root() / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
    if bundled.is_file():
        return bundled
    found = shutil.which("cast")
    if found:
        return Path(found)
    pytest.fail("cast not found: run `npm ci` (package @foundry-rs/cast-linux-amd64)")


@dataclass(frozen=True)
class Served:
    """The running service and what was registered through its API."""

    base: str
    token: str
    dataset_registry: str
    department_registry: str
    dataset_id: str
    content_hash: str
    tx_hash: str
    block_number: int

    @property
    def rpc(self) -> str:
        return f"{self.base}/rpc"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("rpc-clients")
    data_dir, port = root / "data", free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(DATA_DIR=str(data_dir), PORT=str(port), RPC_ACCESS="token")
    with serve_process(
        [sys.executable, "-m", "api", "serve"], url=base, env=env, log_path=root / "serve.log"
    ):
        yield _register(base, data_dir)


def _register(base: str, data_dir: Path) -> Served:
    token = (data_dir / "governance.token").read_text().strip()
    governance = {"Authorization": f"Bearer {token}"}
    enrolled = httpx2.post(
        f"{base}/v1/departments",
        json={"department_id": 1, "name": "Department of Health"},
        headers=governance,
        timeout=30,
    ).json()
    department = {"Authorization": f"Bearer {enrolled['token']}"}
    content = "0x" + keccak(text="admissions.csv").hex()
    accepted = httpx2.post(
        f"{base}/v1/datasets",
        json={"content_hash": content, "metadata": {"title": "Hospital admissions"}},
        headers=department,
        timeout=30,
    ).json()
    deadline = time.monotonic() + 90
    while True:
        op = httpx2.get(
            f"{base}/v1/operations/{accepted['operation_id']}", headers=department, timeout=30
        ).json()
        assert op["status"] != "failed", op
        if op["status"] == "confirmed":
            break
        assert time.monotonic() < deadline, op
        time.sleep(0.2)
    deployment = json.loads((data_dir / "deployment.json").read_text())
    return Served(
        base=base,
        token=token,
        dataset_registry=deployment["dataset_registry"],
        department_registry=deployment["department_registry"],
        dataset_id=accepted["resource"]["dataset_id"],
        content_hash=content,
        tx_hash=op["chain"]["tx_hash"],
        block_number=op["chain"]["block_number"],
    )


def cast(served: Served, *args: str, token: bool = True) -> subprocess.CompletedProcess[str]:
    auth = ["--rpc-headers", f"Authorization: Bearer {served.token}"] if token else []
    return subprocess.run(
        [str(cast_binary()), *args, "--rpc-url", served.rpc, *auth],
        capture_output=True,
        text=True,
        timeout=120,
    )


def cast_ok(served: Served, *args: str) -> str:
    done = cast(served, *args)
    assert done.returncode == 0, f"cast {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def test_cast_reads_the_ledger(served: Served) -> None:
    assert int(cast_ok(served, "chain-id")) == EMBEDDED_CHAIN_ID
    head = int(cast_ok(served, "block-number"))
    assert head >= served.block_number

    block = json.loads(cast_ok(served, "block", str(served.block_number), "--json"))
    assert len(block["logsBloom"]) == 2 + 512
    assert served.tx_hash in block["transactions"]

    receipt = json.loads(cast_ok(served, "receipt", served.tx_hash, "--json"))
    assert receipt["status"] == "0x1"
    assert receipt["to"].lower() == served.dataset_registry.lower()
    assert len(receipt["logsBloom"]) == 2 + 512
    transaction = json.loads(cast_ok(served, "tx", served.tx_hash, "--json"))
    assert transaction["hash"] == served.tx_hash

    # Every registration of some bytes: VersionAdded by content hash (topic 2), the dataset id
    # (topic 1) left open, by event signature (as the README shows) and by raw topic.
    for event in (VERSION_ADDED_INDEXED, "0x" + keccak(text=VERSION_ADDED).hex()):
        logs = json.loads(
            cast_ok(
                served, "logs", "--from-block", "0", "--address", served.dataset_registry,
                event, "", served.content_hash, "--json",
            )
        )  # fmt: skip
        assert [log["transactionHash"] for log in logs] == [served.tx_hash], event
    by_signature = json.loads(
        cast_ok(
            served, "logs", "--from-block", "0", "--address", served.dataset_registry,
            VERSION_ADDED_INDEXED, served.dataset_id, "--json",
        )
    )  # fmt: skip
    assert [log["transactionHash"] for log in by_signature] == [served.tx_hash]

    owner, versions = cast_ok(
        served, "call", served.dataset_registry,
        "dataset(bytes32)((uint64,uint32,uint8,bool,uint64,bytes32))", served.dataset_id,
    ).strip("()").split(", ")[:2]  # fmt: skip
    assert (owner, versions) == ("1", "1")
    assert cast_ok(served, "call", served.department_registry, "isActive(uint64)(bool)", "1") == (
        "true"
    )
    signer = cast_ok(
        served, "call", served.department_registry,
        "department(uint64)((address,uint8,uint64))", "1",
    ).strip("()").split(", ")[0]  # fmt: skip
    assert int(signer, 16) != 0

    proof = json.loads(cast_ok(served, "proof", served.dataset_registry, "0", "--json"))
    assert proof["accountProof"] and len(proof["storageProof"]) == 1
    assert int(cast_ok(served, "nonce", served.dataset_registry)) == 1
    assert cast_ok(served, "code", served.dataset_registry).startswith("0x")
    assert int(cast_ok(served, "gas-price")) > 0


def test_cast_without_the_token_is_refused(served: Served) -> None:
    refused = cast(served, "chain-id", token=False)
    assert refused.returncode != 0
    assert "401" in refused.stderr


def test_web3_reads_the_ledger(served: Served) -> None:
    w3 = Web3(
        HTTPProvider(
            served.rpc, request_kwargs={"headers": {"Authorization": f"Bearer {served.token}"}}
        )
    )
    assert w3.eth.chain_id == EMBEDDED_CHAIN_ID
    abi = json.loads((project_root() / "ledger/_artifacts/DatasetRegistry.json").read_text())
    registry = w3.eth.contract(address=served.dataset_registry, abi=abi["abi"])
    logs = w3.eth.get_logs(
        {
            "address": served.dataset_registry,  # a string, as most scripts write it
            "fromBlock": 0,
            "toBlock": "latest",
            "topics": [keccak(text=VERSION_ADDED), None, bytes.fromhex(served.content_hash[2:])],
        }
    )
    assert [log["transactionHash"].to_0x_hex() for log in logs] == [served.tx_hash]
    (event,) = registry.events.VersionAdded().process_receipt(
        w3.eth.get_transaction_receipt(served.tx_hash), errors=DISCARD
    )
    assert event["args"]["version"] == 1
    dataset = registry.functions.dataset(bytes.fromhex(served.dataset_id[2:])).call()
    assert dataset[0] == 1 and dataset[1] == 1
    block = w3.eth.get_block(served.block_number, full_transactions=True)
    assert block["transactions"][0]["hash"].to_0x_hex() == served.tx_hash
    proof = w3.eth.get_proof(served.dataset_registry, [0], "latest")
    assert proof["accountProof"]
    history = w3.eth.fee_history(2, "latest", [50])
    assert len(history["baseFeePerGas"]) == 3


def test_ethers_reads_the_ledger(served: Served) -> None:
    node = shutil.which("node")
    assert node, "node is required (the README's prerequisites)"
    args = {
        "url": served.rpc,
        "token": served.token,
        "registry": served.dataset_registry,
        "abi": str(project_root() / "ledger/_artifacts/DatasetRegistry.json"),
        "datasetId": served.dataset_id,
        "contentHash": served.content_hash,
        "txHash": served.tx_hash,
    }
    done = subprocess.run(
        [node, str(HERE / "rpc_ethers.mjs"), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project_root(),
    )
    assert done.returncode == 0, done.stderr
    read: dict[str, Any] = json.loads(done.stdout)
    assert read["chainId"] == str(EMBEDDED_CHAIN_ID)
    assert [log["transactionHash"] for log in read["logs"]] == [served.tx_hash]
    assert read["versions"] == [1]
    assert read["dataset"] == {"owner": "1", "versionCount": 1}
    assert read["receipt"]["status"] == 1 and read["receipt"]["bloom"] == 2 + 512
    assert read["transaction"]["hash"] == served.tx_hash
    assert served.tx_hash in read["block"]["transactions"]
    assert read["proof"]["accountProof"] > 0 and read["proof"]["storageProof"] == 1
