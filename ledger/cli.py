"""The ``provledger`` command line."""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from ledger.errors import LedgerError
from ledger.hashing import Digest

app = typer.Typer(
    name="provledger",
    help="Provenance ledger for datasets shared between government departments.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)


def _fail(exc: LedgerError) -> typer.Exit:
    errors.print(f"[bold red]error[/] [{exc.code}] {exc.message}")
    return typer.Exit(code=1)


@app.command("compile")
def compile_command(
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit non-zero if a fresh compile differs from the committed artifacts."
        ),
    ] = False,
) -> None:
    """Compile contracts/ with the pinned npm solc (wasm) into ledger/_artifacts."""
    from ledger.compiler import ARTIFACTS_DIR, compile_contracts, diff_artifacts, write_artifacts

    try:
        with console.status("compiling contracts (solc wasm)…"):
            result = compile_contracts()
    except LedgerError as exc:
        raise _fail(exc) from exc
    if check:
        differing = diff_artifacts(result)
        if differing:
            errors.print(
                "[bold red]artifacts are stale[/]: "
                f"{', '.join(differing)} differ from a fresh compile"
            )
            errors.print("run `provledger compile` and commit ledger/_artifacts")
            raise typer.Exit(code=1)
        console.print(f"artifacts match a fresh compile with solc {result.compiler_version}")
        return
    for path in write_artifacts(result):
        console.print(f"wrote {path.relative_to(ARTIFACTS_DIR.parent.parent)}")


@app.command("hash")
def hash_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Print the SHA-256 content hash of a file (streamed, constant memory)."""
    print(hash_with_progress(path).hex())


def hash_with_progress(path: Path) -> Digest:
    """SHA-256 of ``path``, with a rich progress bar when the file is large enough to wait for."""
    from ledger.hashing import sha256_file

    size = path.stat().st_size
    if size < 64 << 20 or not console.is_terminal:
        return sha256_file(path)
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"hashing {path.name}", total=size)
        return sha256_file(path, on_progress=lambda done: progress.update(task, completed=done))


@app.command("demo")
def demo_command(
    file: Annotated[
        Path | None, typer.Argument(help="File to register (default: a generated sample).")
    ] = None,
    chain: Annotated[
        str, typer.Option(help="anvil (a real local node) or eth-tester (in process).")
    ] = "anvil",
) -> None:
    """Deploy the contracts on a local chain, register a file, and verify it from the chain."""
    from ledger.demo import run_demo

    with ExitStack() as stack:
        if file is None:
            folder = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="provledger-demo-"))
            )
            file = folder / "hospital-admissions-2026.csv"
            file.write_text(
                "week,region,admissions\n"
                + "".join(f"{w},R{w % 9},{100 + w * 7}\n" for w in range(1, 53))
            )
        try:
            run_demo(file, chain_kind=chain, console=console)
        except LedgerError as exc:
            raise _fail(exc) from exc


def main() -> None:  # pragma: no cover - console script entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
