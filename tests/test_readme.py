"""The README's journeys run as written: every ``bash`` block marked ``<!-- readme-run -->`` is
run, in the README's order and in one shell, next to a fresh ``provledger serve`` started the
way ``make run`` starts it (its data directory ``./.provledger`` in the working directory), with
the installed ``provledger`` command, ``curl`` and ``python3``. A step that fails as written
fails this test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.testing import clean_environment, serve_process
from ledger.chain.anvil import free_port

REPO = Path(__file__).resolve().parent.parent
MARKER = "<!-- readme-run -->"
_BLOCK = re.compile(re.escape(MARKER) + r"\s*```bash\n(.*?)```", re.DOTALL)


def readme_blocks() -> list[str]:
    return _BLOCK.findall((REPO / "README.md").read_text())


def test_the_readme_marks_the_journeys_it_promises_to_run() -> None:
    blocks = readme_blocks()
    text = (REPO / "README.md").read_text()
    assert len(blocks) == text.count(MARKER) >= 4  # every marker sits right above a bash block
    script = "\n".join(blocks)
    for step in ("dept enrol 1", "dept enrol 2", "access approve", "verify --manifest"):
        assert step in script


@pytest.fixture
def served_here(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``provledger serve`` in a fresh working directory, as ``make run`` runs it."""
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").exists() or not (venv / "bin" / "provledger").exists():
        pytest.skip("needs the project's virtualenv with provledger installed (make setup)")
    if shutil.which("curl") is None:
        pytest.skip("needs curl, which the README's journeys use (.ci/run installs it)")
    (tmp_path / ".venv").symlink_to(venv)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve_process(
        [str(venv / "bin" / "provledger"), "serve"],
        url=url,
        env=clean_environment(PORT=str(port)),
        log_path=tmp_path / "serve.log",
        cwd=tmp_path,
    ):
        yield tmp_path, url


def test_the_readme_journeys_run_as_written(served_here: tuple[Path, str]) -> None:
    workdir, url = served_here
    script = "set -euo pipefail\n" + "\n".join(readme_blocks())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVLEDGER_")}
    env |= {"PROVLEDGER_URL": url, "COLUMNS": "200", "VIRTUAL_ENV": ""}
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    out = result.stdout
    assert "True" in out  # POST /v1/verify: the uploaded file matched
    assert "AUTHENTIC" in out  # verify against the chain alone
    assert "{'matched': 1}" in out  # the bulk verification's counts
    assert "1 files: 1 matched" in out  # the manifest and the folder audits
    assert "v2" in out and "derived from" in out  # the lineage of the cleaned version
    assert "AccessApproved" in out and "AccessRequested" in out  # audit --kind access
    assert "note: these bytes were registered before" in result.stderr
    assert (workdir / "audit.csv").exists() and (workdir / "audit.json").exists()
