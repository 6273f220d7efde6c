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
