"""The committed compiler artifacts, loaded at run time with ``importlib.resources``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ledger.errors import ArtifactError


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    """One compiled contract: what deployment and calls need, and where it came from."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    #: The compiler's ``storageLayout``: state variables, their slots and types.
    storage_layout: dict[str, Any]


@cache
def load_artifact(name: str) -> Artifact:
    """The artifact of contract ``name`` (e.g. ``"DatasetRegistry"``)."""
    try:
        text = resources.files("ledger").joinpath("_artifacts", f"{name}.json").read_text()
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"no compiled artifact for contract {name!r}: run `provledger compile`"
        ) from exc
    try:
        document = json.loads(text)
        return Artifact(
            name=document["contractName"],
            abi=tuple(document["abi"]),
            bytecode=document["bytecode"],
            deployed_bytecode=document["deployedBytecode"],
            compiler_version=document["compiler"]["version"],
            storage_layout=document["storageLayout"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"artifact for {name!r} is malformed: {exc}") from exc
