"""Types shared by the CLI tests and their fixtures (a module, since conftest is not importable)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import Result

from ledger.runtime import Runtime

#: The service refuses larger uploads, so a larger file registered by hash proves its bytes
#: were never sent.
UPLOAD_LIMIT = 1 << 20

#: ``provledger(*args, token=…, **env)`` → the CliRunner result.
Invoke = Callable[..., Result]


@dataclass(frozen=True)
class Service:
    """The running service: its URL, governance token and data directory."""

    url: str
    governance_token: str
    data_dir: Path
    runtime: Runtime


@dataclass(frozen=True)
class Department:
    """An enrolled department: its id and a token acting for it."""

    id: int
    token: str


def answer_of(result: Result) -> dict[str, Any]:
    """The JSON a command printed (``--json``), once it succeeded."""
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """``check()``'s first truthy value, polling while the indexer catches up with the chain
    (it follows a moment behind a confirmation); its last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def registered(provledger: Invoke, owner: Department, path: Path, *args: str) -> dict[str, Any]:
    """``provledger register PATH --json ARGS`` as ``owner``: the service's answer."""
    return answer_of(provledger("register", str(path), "--json", *args, token=owner.token))
