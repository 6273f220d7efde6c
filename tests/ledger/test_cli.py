"""The provledger command line, driven as a user would."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from ledger.cli import app

runner = CliRunner()


def test_hash_prints_the_sha256_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    result = runner.invoke(app, ["hash", str(path)])
    assert result.exit_code == 0
    assert result.output.strip() == "0x" + hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_hash_of_a_missing_file_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hash", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_the_demo_registers_a_file_and_verifies_it_from_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "population.csv"
    path.write_text("area,people\nnorth,100\n")
    result = runner.invoke(
        app, ["demo", str(path), "--chain", "eth-tester"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"registered population.csv (sha256:{digest})" in result.output
    assert "MATCH population.csv" in result.output
    assert "NO MATCH modified-population.csv" in result.output


def test_verify_reads_the_chain_directly_and_writes_and_checks_a_bundle(tmp_path: Path) -> None:
    """An auditor's journey with only an RPC URL and a contract address: a real anvil node."""
    import os

    from eth_account import Account

    from ledger.chain.anvil import AnvilNode
    from ledger.chain.backend import Chain
    from ledger.chain.deploy import Ledger
    from ledger.chain.types import Classification, NewVersion
    from ledger.hashing import sha256_file

    data = tmp_path / "register.csv"
    data.write_bytes(os.urandom(4096))
    with AnvilNode() as node:
        chain = Chain.rpc(node.url)
        governance, department = Account.create(), Account.create()
        for account in (governance, department):
            chain.fund(account.address, 10**20)
        ledger = Ledger.deploy(chain, governance)
        ledger.departments.enrol_department(1, "Health", department.address, sender=governance)
        ledger.datasets.create_dataset(
            os.urandom(32),
            Classification.PUBLIC,
            bytes(32),
            NewVersion(bytes(sha256_file(data))),
            sender=department,
        )
        target = ["--rpc", node.url, "--contract", ledger.deployment.dataset_registry]
        bundle = tmp_path / "proof.json"

        matched = runner.invoke(app, ["verify", str(data), *target, "--bundle", str(bundle)])
        modified = tmp_path / "modified.csv"
        modified.write_bytes(data.read_bytes() + b"x")
        unmatched = runner.invoke(app, ["verify", str(modified), *target])
        checked_online = runner.invoke(app, ["verify", "--bundle", str(bundle), str(data), *target])

    checked_offline = runner.invoke(app, ["verify", "--bundle", str(bundle), str(data)])
    wrong_file = runner.invoke(app, ["verify", "--bundle", str(bundle), str(modified)])

    assert matched.exit_code == 0, matched.output
    assert "AUTHENTIC" in matched.output and bundle.exists()
    assert unmatched.exit_code == 1 and "NO MATCH" in unmatched.output
    assert "hint: a record registered in a batch" in unmatched.output  # where else to look
    assert checked_online.exit_code == 0, checked_online.output
    assert "against the chain" in checked_online.output
    assert checked_offline.exit_code == 0 and "offline" in checked_offline.output
    assert wrong_file.exit_code == 1 and "the file hashes to" in wrong_file.output


def test_verify_without_a_target_is_a_usage_error() -> None:
    result = runner.invoke(app, ["verify", "--hash", "0x" + "ab" * 32])
    assert result.exit_code == 2
    assert "--rpc and --contract" in result.output


def test_a_node_that_does_not_answer_fails_as_unavailable_in_the_common_error_format(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n")
    result = runner.invoke(
        app,
        ["verify", str(path), "--rpc", "http://127.0.0.1:9", "--contract", "0x" + "11" * 20],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 4, result.output
    assert result.output.startswith("error: chain-unavailable: ")


def test_a_bundle_that_proves_nothing_is_a_no_in_the_common_error_format(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text('{"format": "not a bundle"')
    result = runner.invoke(app, ["verify", "--bundle", str(bundle)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output  # 1: not verified, as for NO MATCH
    assert result.output.startswith("error: invalid-proof: not a readable proof bundle")
