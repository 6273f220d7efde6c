"""Types shared by the CLI tests and their fixtures (a module, since conftest is not importable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
