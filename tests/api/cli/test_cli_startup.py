"""The client commands start quickly and agree with the service on the names they share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

from api import app as service_app
from api import schemas
from api.command_index import COMMANDS
from api.commands import common, datasets


def test_the_cli_offers_exactly_the_classifications_the_api_accepts() -> None:
    assert get_args(datasets.Classification) == get_args(schemas.Classification)
    assert get_args(datasets.Classification) == schemas.CLASSIFICATIONS


def test_the_cli_looks_for_the_governance_token_where_the_service_writes_it() -> None:
    assert common.GOVERNANCE_TOKEN_FILE == service_app.GOVERNANCE_TOKEN_FILE


def test_starting_the_cli_builds_neither_the_service_nor_its_schemas() -> None:
    # Importing the service takes seconds and the schemas a third of one: every command,
    # `provledger hash` included, would pay that before doing anything.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, api.cli; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for heavy in ("'api.app'", "'api.schemas'", "'web3'", "'fastapi'", "'httpx2'"):
        assert heavy not in loaded


def _modules_after(*args: str, tmp_path: Path) -> set[str]:
    """The modules loaded by ``provledger ARGS…`` run as a user runs it (a new process)."""
    report = tmp_path / "modules.txt"
    script = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(report)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        "from api.cli import app\n"
        f"sys.argv = ['provledger', *{list(args)!r}]\n"
        "app()\n"
    )
    subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    return set(report.read_text().split("\n"))


def test_help_imports_no_command(tmp_path: Path) -> None:
    # `provledger --help` is printed from the index: no command's module is imported.
    loaded = _modules_after("--help", tmp_path=tmp_path)
    assert not {"ledger.cli", "typer.rich_utils"} & loaded
    assert not {name for name in loaded if name.startswith("api.commands")}


def test_hash_imports_the_ledgers_commands_and_no_others(tmp_path: Path) -> None:
    loaded = _modules_after("hash", str(Path(__file__)), tmp_path=tmp_path)
    assert "ledger.cli" in loaded
    commands = {name for name in loaded if name.startswith("api.commands.")}
    assert commands == {"api.commands.ledger_commands"}
    # Nor what the other ledger commands import when they run.
    for unrelated in ("ledger.chain", "ledger.verifier", "ledger.runtime", "rich.progress"):
        assert unrelated not in loaded


def test_a_group_imports_its_own_module(tmp_path: Path) -> None:
    loaded = _modules_after("ops", "--help", tmp_path=tmp_path)
    assert "api.commands.operations" in loaded
    assert "api.commands.access" not in loaded


def test_help_lists_every_command() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "api", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "300"},
    ).stdout
    listed = [line.split()[1] for line in shown.splitlines() if line.startswith("│ ")]
    assert listed[1:] == [entry.name for entry in COMMANDS]  # after the --help option
