"""The ``provledger`` command line."""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
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
    # Escaped: the code in brackets and any text from the chain are data, not rich markup.
    errors.print(f"[bold red]error[/] {escape(f'[{exc.code}] {exc.message}')}")
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


@app.command("verify")
def verify_command(
    file: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="File to verify."),
    ] = None,
    content_hash: Annotated[
        str | None, typer.Option("--hash", help="Verify a 0x-hex SHA-256 instead of a file.")
    ] = None,
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL of any node of the chain.")] = None,
    contract: Annotated[str | None, typer.Option(help="DatasetRegistry address.")] = None,
    from_block: Annotated[int, typer.Option(help="First block to search (deployment block).")] = 0,
    bundle: Annotated[
        Path | None,
        typer.Option(
            help="An existing bundle is checked (against FILE if given); a new path gets the "
            "proof bundle of FILE/--hash written to it. A bundle is never overwritten."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Verify a file against the chain itself: no provledger API or index involved.

    Exit status: 0 registered and authentic, 1 not registered or not authentic, 2 bad usage."""
    from ledger.chain.backend import Chain
    from ledger.verifier import Verdict, Verifier, check_bundle, write_bundle

    checking = (file is None and content_hash is None) or (bundle is not None and bundle.exists())
    if checking and bundle is None:
        raise typer.BadParameter("give a FILE, --hash, or --bundle to check")
    if not checking and (rpc is None or contract is None):
        raise typer.BadParameter("--rpc and --contract are needed to verify against the chain")
    try:
        digest = _digest_of(file, content_hash)
        verifier = None
        if rpc is not None and contract is not None:
            verifier = Verifier.at(Chain.rpc(rpc), contract, start_block=from_block)
        if checking:
            assert bundle is not None
            verdict: Verdict = check_bundle(
                bundle.read_text(), file_digest=digest, verifier=verifier
            )
            where = "against the chain" if verifier else "offline (hashes and signatures only)"
            errors.print(f"bundle checked {where}")
        else:
            assert verifier is not None and digest is not None
            verdict = verifier.verify(digest)
            if bundle is not None:
                bundle.write_text(write_bundle(verdict))
                errors.print(f"proof bundle written to {bundle}")
    except LedgerError as exc:
        raise _fail(exc) from exc
    _show_verdict(verdict, as_json=as_json)
    raise typer.Exit(code=0 if verdict.authentic else 1)


def _digest_of(file: Path | None, content_hash: str | None) -> Digest | None:
    if content_hash is not None:
        return Digest.from_hex(content_hash)
    return hash_with_progress(file) if file is not None else None


def _show_verdict(verdict: Any, *, as_json: bool) -> None:
    import json

    from rich.table import Table

    if as_json:
        print(json.dumps(verdict.to_dict(), indent=2, sort_keys=True))
        return
    if not verdict.matched:
        console.print(
            f"[bold red]NO MATCH[/] {verdict.content_hash} is not registered on this chain"
        )
        return
    title = "[bold green]AUTHENTIC[/]" if verdict.authentic else "[bold red]NOT AUTHENTIC[/]"
    table = Table(title=f"{title} {verdict.content_hash}")
    for column in (
        "dataset",
        "v",
        "dept",
        "authorised by",
        "key ok",
        "history",
        "withdrawn",
        "block",
        "tx",
    ):
        table.add_column(column)
    for r in verdict.registrations:
        table.add_row(
            r.dataset_id[:18] + "…",
            str(r.version),
            str(r.department_id),
            f"{r.authorised_by} {r.signer[:10]}…",
            "yes" if r.signer.lower() == r.department_key.lower() else "NO",
            "complete" if r.history_complete else "INCOMPLETE",
            "yes" if r.withdrawn else "no",
            str(r.block_number),
            r.tx_hash[:14] + "…",
        )
    console.print(table)


@app.command("reindex")
def reindex_command(
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (default ./.provledger).")
    ] = None,
) -> None:
    """Drop the SQL index and rebuild it from the chain's events (the result is identical)."""
    from ledger.config import Settings
    from ledger.runtime import Runtime

    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    try:
        runtime = Runtime.open(settings)
        with console.status("rebuilding the index from the chain…"):
            report = runtime.indexer.reindex()
    except LedgerError as exc:
        raise _fail(exc) from exc
    console.print(f"reindexed: {report}")
    runtime.close()


def main() -> None:  # pragma: no cover - console script entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
