"""The ``provledger`` command line."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ledger.errors import (
    ChainError,
    ConfigurationError,
    ContractRevertError,
    InvalidInputError,
    KeystoreError,
    LedgerError,
    RpcError,
    TransactionFailedError,
)
from ledger.hashing import Digest

if TYPE_CHECKING:
    from ledger.audit_report import Checker

app = typer.Typer(
    name="provledger",
    help="Provenance ledger for datasets shared between government departments.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
errors = Console(stderr=True)


#: Exit statuses of a failure, as the client commands use them (``api.commands.common.
#: ExitCode``): 2 the input or configuration is wrong (nothing was done), 4 the chain or node
#: did not answer as it should, 5 the chain refused a transaction; 1 anything else (and, for
#: ``verify``, "not every file matched").
EXIT_OTHER, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_CHAIN_REFUSED = 1, 2, 4, 5


def _fail(exc: LedgerError) -> typer.Exit:
    """Print ``error: <code>: <detail>`` (the format every command uses) and the exit."""
    # Escaped: the code and any text from the chain are data, not rich markup.
    errors.print(f"[bold red]error[/]: {escape(exc.code)}: {escape(exc.message)}")
    if isinstance(exc, InvalidInputError | ConfigurationError | KeystoreError):
        return typer.Exit(code=EXIT_USAGE)
    if isinstance(exc, ContractRevertError | TransactionFailedError):
        return typer.Exit(code=EXIT_CHAIN_REFUSED)
    if isinstance(exc, ChainError | RpcError):
        return typer.Exit(code=EXIT_UNAVAILABLE)
    return typer.Exit(code=EXIT_OTHER)


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
    # Imported here: most files hash before a progress bar would show (and start-up counts).
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

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


#: Opens a checker that audits through a provledger service (``--url``): installed by the
#: service's command line (``api.commands``), which has the HTTP client; ``ledger`` has none.
ServiceChecker = Callable[[str, str | None], AbstractContextManager["Checker"]]
_service_checker: ServiceChecker | None = None


def use_service_checker(factory: ServiceChecker) -> None:
    global _service_checker
    _service_checker = factory


@app.command("verify")
def verify_command(
    path: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            readable=True,
            help="A file to verify, or a folder to audit (every file below it).",
        ),
    ] = None,
    content_hash: Annotated[
        str | None, typer.Option("--hash", help="Verify a 0x-hex SHA-256 instead of a file.")
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Audit the files a manifest names: sha256sum output or JSON lines "
            '({"sha256": …, "path": …}).',
        ),
    ] = None,
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL of any node of the chain.")] = None,
    contract: Annotated[str | None, typer.Option(help="DatasetRegistry address.")] = None,
    from_block: Annotated[int, typer.Option(help="First block to search (deployment block).")] = 0,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="PROVLEDGER_URL",
            help="Audit a folder or manifest through this provledger service (it also proves "
            "records anchored in batches); --rpc and --contract take precedence.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="PROVLEDGER_TOKEN", help="Bearer token for --url."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Write an audit's report here: CSV, or JSON if it ends in .json."),
    ] = None,
    chunk: Annotated[
        int, typer.Option(min=1, max=10_000, help="Hashes checked per round trip (audits).")
    ] = 5_000,
    bundle: Annotated[
        Path | None,
        typer.Option(
            help="An existing bundle is checked (against FILE if given); a new path gets the "
            "proof bundle of FILE/--hash written to it. A bundle is never overwritten."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Verify a file against the chain itself: no provledger API or index involved; or audit a
    folder or a manifest in bulk, against the chain (--rpc --contract) or a service (--url).

    Exit status: 0 registered and authentic (an audit: every file matched), 1 not registered
    or not authentic (an audit: any file not matched), 2 bad usage."""
    from ledger.chain.backend import Chain
    from ledger.verifier import Verdict, Verifier, check_bundle, write_bundle

    if manifest is not None or (path is not None and path.is_dir()):
        if content_hash is not None or bundle is not None:
            raise typer.BadParameter("an audit takes no --hash or --bundle")
        _audit(
            folder=path if manifest is None else None,
            manifest=manifest,
            rpc=rpc,
            contract=contract,
            from_block=from_block,
            url=url,
            token=token,
            report=report,
            chunk=chunk,
            as_json=as_json,
        )
        return
    file = path
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


def _audit(
    *,
    folder: Path | None,
    manifest: Path | None,
    rpc: str | None,
    contract: str | None,
    from_block: int,
    url: str | None,
    token: str | None,
    report: Path | None,
    chunk: int,
    as_json: bool,
) -> None:
    """A folder or manifest checked in bulk; the counts printed, the rows in ``report``."""
    import time

    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    from ledger.audit import BulkVerifier
    from ledger.audit_report import chain_checker, files_below, hash_files, run_audit
    from ledger.chain.backend import Chain
    from ledger.manifest import read_manifest
    from ledger.rpc.client import HttpJsonRpc
    from ledger.verifier import Verifier

    # Against the chain when told where it is (--rpc and --contract win over a service URL
    # from the environment, which client commands set), else through the service.
    on_chain = rpc is not None or contract is not None
    if on_chain and (rpc is None or contract is None):
        raise typer.BadParameter("an audit against the chain needs both --rpc and --contract")
    if not on_chain and not url:
        raise typer.BadParameter(
            "audit against the chain (--rpc and --contract) or through a service (--url or "
            "PROVLEDGER_URL)"
        )
    if report is not None and report.exists():
        raise typer.BadParameter(f"{report} exists: a report is never overwritten")
    quiet = as_json or not console.is_terminal
    try:
        started = time.perf_counter()
        if manifest is not None:
            with manifest.open(encoding="utf-8") as lines:
                entries = read_manifest(lines)
        else:
            assert folder is not None
            files = files_below(folder)
            total = sum(f.stat().st_size for f in files)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=console,
                disable=quiet,
            ) as progress:
                task = progress.add_task(f"hashing {len(files)} files", total=total)
                entries = hash_files(folder, files, lambda n: progress.advance(task, n))
        hashing = time.perf_counter() - started
        with ExitStack() as stack:
            if on_chain:
                assert rpc is not None and contract is not None
                chain = Chain.rpc(rpc)
                stack.callback(chain.close)
                verifier = Verifier.at(chain, contract, start_block=from_block)
                check = chain_checker(BulkVerifier.like(verifier, HttpJsonRpc(rpc)))
            else:
                assert url is not None
                if _service_checker is None:
                    raise typer.BadParameter("this installation has no service client for --url")
                check = stack.enter_context(_service_checker(url, token))
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=quiet,
            ) as progress:
                task = progress.add_task("checking", total=len(entries))
                result = run_audit(
                    entries, check, chunk=chunk, on_checked=lambda n: progress.advance(task, n)
                )
        result.hashing_seconds = hashing
    except LedgerError as exc:
        raise _fail(exc) from exc
    if report is not None:
        report.write_text(result.to_json() if report.suffix == ".json" else result.to_csv())
    if as_json:
        print(result.to_json())
    else:
        counts = ", ".join(f"{n} {status}" for status, n in result.counts.items()) or "nothing"
        rate = len(entries) / result.checking_seconds if result.checking_seconds else 0.0
        console.print(
            f"{len(entries)} files: {counts} (block {result.block_number}; "
            f"checked in {result.checking_seconds:.2f}s, {rate:,.0f} files/s)"
        )
        if report is not None:
            console.print(f"report written to {report}")
        if rpc is not None and result.counts.get("not-registered"):
            console.print(BATCHED_HINT)
    raise typer.Exit(code=0 if result.all_matched else 1)


#: What "not registered" against the chain alone may mean: a batched record is not in the
#: chain's logs, only its batch's Merkle root is.
BATCHED_HINT = (
    '  hint: a record registered in a batch (anchoring "batch") is on chain only as its '
    "batch's Merkle root: check it with its proof bundle (--bundle) or through the service "
    "(--url)"
)


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
        console.print(BATCHED_HINT)
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
