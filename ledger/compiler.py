"""Compiles ``contracts/`` into the committed artifacts under ``ledger/_artifacts``.

A development-time tool: nothing compiles at import or test time. The compiler is the official
Solidity wasm build from npm (``solc``, pinned by ``package-lock.json``), driven by py-solc-x
through ``_toolchain/solc-launcher.cjs``, because native solc downloads are not possible
everywhere provledger is built. The artifacts record the ABI, bytecode, compiler version,
settings and a SHA-256 of every source that went in, so ``provledger compile --check`` can prove
that what is committed is what the sources compile to, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import CompilationError, ToolchainError

#: Contracts deployed by provledger, in deployment order.
CONTRACTS = (
    "DepartmentRegistry",
    "DatasetRegistry",
    "AccessRegistry",
    "AnchorRegistry",
    "KeyDirectory",
)

#: Compiler settings. Prague is the newest fork both py-evm (eth-tester) and anvil implement;
#: anvil is started with ``--hardfork prague`` to match.
SETTINGS: dict[str, Any] = {
    "evmVersion": "prague",
    "optimizer": {"enabled": True, "runs": 10_000},
    "viaIR": True,
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.methodIdentifiers",
                "storageLayout",
            ]
        }
    },
}

_LAUNCHER = Path(__file__).parent / "_toolchain" / "solc-launcher.cjs"
ARTIFACTS_DIR = Path(__file__).parent / "_artifacts"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileResult:
    """What a compile produced: file name → exact bytes to write."""

    files: dict[str, bytes]
    compiler_version: str


def project_root() -> Path:
    """The repository root: the folder holding ``contracts/`` and ``package.json``."""
    return Path(__file__).resolve().parent.parent


@contextmanager
def _launcher_executable() -> Iterator[Path]:
    # py-solc-x runs `solc_binary` directly, so it needs an executable file; a shim in a temp
    # folder works even where the package was installed without exec bits.
    node = shutil.which("node")
    if node is None:
        raise ToolchainError("node is not on PATH: install Node.js (>= 18) to compile contracts")
    with tempfile.TemporaryDirectory(prefix="provledger-solc-") as tmp:
        shim = Path(tmp) / "solc"
        shim.write_text(f'#!/bin/sh\nexec "{node}" "{_LAUNCHER}" "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        yield shim


def _source_units(root: Path) -> dict[str, dict[str, str]]:
    contracts = root / "contracts"
    units = {}
    for path in sorted(contracts.rglob("*.sol")):
        units[path.relative_to(root).as_posix()] = {"content": path.read_text()}
    if not units:
        raise CompilationError(f"no .sol files under {contracts}")
    return units


def _resolve_source(root: Path, unit: str) -> Path:
    for base in (root, root / "node_modules"):
        candidate = base / unit
        if candidate.is_file():
            return candidate
    raise ToolchainError(f"source {unit} was compiled but cannot be found again on disk")


def compile_contracts(root: Path | None = None) -> CompileResult:
    """Compile every contract under ``root/contracts`` and render the artifact files."""
    import solcx  # imported here: compiling is a development-time action
    from solcx.exceptions import SolcError

    root = root or project_root()
    if not (root / "node_modules" / "solc").is_dir():
        raise ToolchainError(f"{root / 'node_modules' / 'solc'} is missing: run `npm ci` in {root}")
    standard_input = {"language": "Solidity", "sources": _source_units(root), "settings": SETTINGS}
    with _launcher_executable() as solc_binary:
        try:
            version = str(solcx.wrapper.get_solc_version(solc_binary, with_commit_hash=True))
            output = solcx.compile_standard(standard_input, solc_binary=solc_binary, base_path=root)
        except SolcError as exc:
            raise CompilationError(f"solc failed:\n{exc}") from exc
        except OSError as exc:
            raise ToolchainError(f"cannot run the solc launcher: {exc}") from exc

    source_hashes = {
        unit: hashlib.sha256(_resolve_source(root, unit).read_bytes()).hexdigest()
        for unit in sorted(output["sources"])
    }
    files: dict[str, bytes] = {}
    found = {
        name: (unit, out)
        for unit, by_name in output["contracts"].items()
        for name, out in by_name.items()
    }
    for name in CONTRACTS:
        if name not in found:
            raise CompilationError(f"contract {name} not found in the compiler output")
        unit, out = found[name]
        artifact = {
            "contractName": name,
            "sourceName": unit,
            "abi": out["abi"],
            "bytecode": "0x" + out["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
            "methodIdentifiers": out["evm"]["methodIdentifiers"],
            # Where each state variable lives: auditors read state from storage, not by
            # running view functions (ledger.chain.storage).
            "storageLayout": out["storageLayout"],
            "compiler": {"name": "solc", "version": version, "settings": _settings_record()},
            "sources": source_hashes,
        }
        files[f"{name}.json"] = _render(artifact)
    return CompileResult(files=files, compiler_version=version)


def _settings_record() -> dict[str, Any]:
    return {key: value for key, value in SETTINGS.items() if key != "outputSelection"}


def _render(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def write_artifacts(result: CompileResult, directory: Path = ARTIFACTS_DIR) -> list[Path]:
    """Replace the artifacts in ``directory`` with ``result``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        if stale.name not in result.files:
            stale.unlink()
    written = []
    for name, content in sorted(result.files.items()):
        path = directory / name
        tmp = path.with_suffix(".json.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        written.append(path)
    return written


def diff_artifacts(result: CompileResult, directory: Path = ARTIFACTS_DIR) -> list[str]:
    """Names of artifact files that differ between ``result`` and ``directory`` (empty: equal)."""
    committed = {path.name: path.read_bytes() for path in directory.glob("*.json")}
    names = sorted(set(committed) | set(result.files))
    return [name for name in names if committed.get(name) != result.files.get(name)]
