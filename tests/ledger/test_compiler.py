"""The committed artifacts are exactly what the pinned compiler makes of contracts/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.cli import app
from ledger.compiler import (
    ARTIFACTS_DIR,
    CONTRACTS,
    CompileResult,
    compile_contracts,
    diff_artifacts,
)


@pytest.fixture(scope="module")
def fresh() -> CompileResult:
    return compile_contracts()


def test_compile_check_passes_on_the_committed_artifacts() -> None:
    result = CliRunner().invoke(app, ["compile", "--check"])
    assert result.exit_code == 0, result.output
    assert "artifacts match a fresh compile" in result.output


def test_a_fresh_compile_reproduces_every_artifact_byte_for_byte(fresh: CompileResult) -> None:
    assert sorted(fresh.files) == sorted(f"{name}.json" for name in CONTRACTS)
    assert diff_artifacts(fresh) == []


def test_a_stale_or_missing_artifact_is_reported(fresh: CompileResult, tmp_path: Path) -> None:
    copy = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS_DIR, copy)
    tampered = copy / "DatasetRegistry.json"
    document = json.loads(tampered.read_text())
    document["bytecode"] = document["bytecode"][:-2] + "00"
    tampered.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    (copy / "AnchorRegistry.json").unlink()
    (copy / "Stray.json").write_text("{}\n")
    assert diff_artifacts(fresh, copy) == [
        "AnchorRegistry.json",
        "DatasetRegistry.json",
        "Stray.json",
    ]


def test_artifacts_record_compiler_settings_and_source_hashes(fresh: CompileResult) -> None:
    artifact = json.loads(fresh.files["DatasetRegistry.json"])
    assert artifact["compiler"]["version"].startswith("0.8.37+commit.")
    assert artifact["compiler"]["settings"]["evmVersion"] == "prague"
    sources = artifact["sources"]
    assert "contracts/DatasetRegistry.sol" in sources
    assert any(unit.startswith("@openzeppelin/contracts/") for unit in sources)
    assert all(len(digest) == 64 for digest in sources.values())
