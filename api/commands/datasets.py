"""Departments' datasets at a terminal: ``provledger register FILE`` and ``datasets …``.

``register`` hashes the file here and sends only the hash: the bytes never leave the
department. ``--upload`` sends the file instead, for the service to hash as it streams.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape

from api.commands.bulk import DEFAULT_CHUNK, register_directory, register_manifest
from api.commands.common import (
    CursorOption,
    LimitOption,
    ReasonOption,
    Terminal,
    byte_progress,
    hash_locally,
    hex_id,
    report_write,
    settle,
)
from api.commands.options import ServiceOptions, WriteOptions, with_options
from ledger.errors import InvalidDigestError
from ledger.hashing import Digest

if TYPE_CHECKING:
    from api.client import Parent, ProvledgerClient
    from api.client.sealed import SealedUpload
    from api.schemas import Accepted, OperationPublic


#: The classifications the API accepts, spelled here so that start-up need not build the API's
#: schemas (a test holds this equal to ``api.schemas.Classification``).
Classification = Literal["public", "internal", "restricted", "confidential"]
Anchoring = Literal["chain", "batch"]

#: The top-level commands defined here (``provledger register``).
commands = typer.Typer()
datasets_app = typer.Typer(
    name="datasets", help="List, show and withdraw datasets.", no_args_is_help=True
)

DatasetArg = Annotated[
    str, typer.Argument(help="The dataset id (0x + 64 hex digits).", callback=hex_id)
]


def parse_parent(text: str) -> Parent:
    """``DATASET:VERSION`` (as ``datasets show`` prints parents) → (dataset id, version)."""
    dataset, _, version = text.rpartition(":")
    try:
        Digest.from_hex(dataset)
        number = int(version)
    except (InvalidDigestError, ValueError) as exc:
        raise typer.BadParameter(
            f"{text[:100]!r} is not DATASET:VERSION (0x + 64 hex digits, a colon, a number)",
            param_hint="--parent",
        ) from exc
    if number < 1:
        raise typer.BadParameter(f"versions count from 1, got {number}", param_hint="--parent")
    return dataset.lower(), number


def _checked_source(file: Path | None, content_hash: str | None, *, upload: bool) -> str | None:
    """Refuse a FILE and --hash together (or neither); return the hash in its one spelling."""
    if (file is None) == (content_hash is None):
        raise typer.BadParameter("give a FILE or --hash, one of the two")
    if content_hash is None:
        return None
    if upload:
        raise typer.BadParameter("--upload needs a FILE, not --hash")
    try:
        return Digest.from_hex(content_hash).hex()
    except InvalidDigestError as exc:
        raise typer.BadParameter(exc.message, param_hint="--hash") from exc


def _refuse_dataset_options(given: dict[str, str | None]) -> None:
    named = [name for name, value in given.items() if value]
    if named:
        raise typer.BadParameter(
            f"{', '.join(named)} describe a new dataset; a version takes --note and --tag"
        )


@commands.command("register")
@with_options
def register_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            readable=True,
            help="The file to register, or a folder: each file in it becomes a batched dataset.",
        ),
    ] = None,
    content_hash: Annotated[
        str | None,
        typer.Option("--hash", help="Register a 0x-hex SHA-256 computed elsewhere instead."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Append a version to this dataset (0x id) instead of creating one.",
            callback=hex_id,
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option(help="New dataset's title (default: the file's name).")
    ] = None,
    description: Annotated[str, typer.Option(help="New dataset's description.")] = "",
    classification: Annotated[
        Classification | None,
        typer.Option(help="New dataset's classification (default internal).", show_default=False),
    ] = None,
    licence: Annotated[str, typer.Option(help="New dataset's licence.")] = "",
    source_system: Annotated[str, typer.Option(help="The system the data comes from.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeat for more).")] = None,
    note: Annotated[str, typer.Option(help="A note on the new version (with --dataset).")] = "",
    parent: Annotated[
        list[str] | None,
        typer.Option(help="A version this one derives from, DATASET:VERSION (repeatable)."),
    ] = None,
    upload: Annotated[
        bool, typer.Option("--upload", help="Send the file itself; the service hashes it.")
    ] = False,
    seal_file: Annotated[
        bool,
        typer.Option(
            "--seal",
            help="Share it sealed: encrypted here under a fresh key, the sealed bytes uploaded, "
            "the key wrapped to this department's encryption key; grantees fetch it with "
            "`provledger fetch`.",
        ),
    ] = False,
    anchoring: Annotated[
        Anchoring,
        typer.Option(
            help="chain: its own transaction; batch: a record of a Merkle batch (one signed "
            "anchor for many; always for a folder). Fixed for the dataset's life."
        ),
    ] = "chain",
    manifest: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="JSON lines of POST /v1/datasets/batch records (hashes computed elsewhere).",
        ),
    ] = None,
    chunk: Annotated[
        int, typer.Option(min=1, max=10_000, help="Records per request for a folder.")
    ] = DEFAULT_CHUNK,
    *,
    options: WriteOptions,
) -> None:
    """Register a file's content hash as a new dataset, or as a new version of one (--dataset).

    By default the file is hashed here and only its SHA-256 is sent."""
    if seal_file and (
        file is None or file.is_dir() or upload or content_hash or manifest or anchoring != "chain"
    ):
        raise typer.BadParameter(
            "--seal takes a FILE (sealed here: not --hash, --upload, --manifest or a folder) "
            "and anchoring chain (grants are for datasets on chain)"
        )
    if manifest is not None:
        if file is not None or content_hash or dataset or parent or upload:
            raise typer.BadParameter("--manifest takes no FILE, --hash, --dataset or --parent")
        with options.connect() as (client, terminal):
            register_manifest(
                client, terminal, manifest, chunk=chunk, wait=options.wait, timeout=options.timeout
            )
        return
    if file is not None and file.is_dir():
        if upload or content_hash or dataset or parent or note or title:
            raise typer.BadParameter(
                "a folder takes only --classification, --tag, --chunk and the wait options"
            )
        with options.connect() as (client, terminal):
            register_directory(
                client, terminal, file, classification=classification or "internal",
                tags=tag or [], chunk=chunk, wait=options.wait, timeout=options.timeout,
            )  # fmt: skip
        return
    given_hash = _checked_source(file, content_hash, upload=upload)
    parents = [parse_parent(text) for text in parent or ()]
    tags = tag or []
    if dataset is not None:
        _refuse_dataset_options(
            {"--title": title, "--classification": classification, "--licence": licence,
             "--description": description, "--source-system": source_system}
        )  # fmt: skip
    elif note:
        raise typer.BadParameter("--note is for a new version (with --dataset)")
    elif title is None and file is None:
        raise typer.BadParameter("--title is needed with --hash (there is no file name)")
    with options.connect() as (client, terminal), tempfile.TemporaryDirectory() as work:
        content: str | Path
        sealed: SealedUpload | None = None
        if seal_file:
            assert file is not None
            sealed = _seal(client, terminal, file, dataset, Path(work))
            content = sealed.content_hash
        elif given_hash is not None:
            content = given_hash
        else:
            assert file is not None
            content = file if upload else hash_locally(terminal, file).hex()
        sending = content.stat().st_size if isinstance(content, Path) else 0
        with byte_progress(terminal, f"uploading {file}", sending) as report:
            if dataset is None:
                accepted = client.create_dataset(
                    content,
                    title=title or (file.name if file else ""),
                    description=description,
                    classification=classification or "internal",
                    licence=licence,
                    source_system=source_system,
                    tags=tags,
                    parents=parents,
                    anchoring=anchoring,
                    salt=sealed.salt if sealed else None,
                    sealed=sealed.sealed if sealed else None,
                    on_upload_progress=report,
                )
            else:
                accepted = client.add_version(
                    dataset, content, note=note, tags=tags, parents=parents,
                    sealed=sealed.sealed if sealed else None, on_upload_progress=report,
                )  # fmt: skip

        def human(operation: OperationPublic | None) -> None:
            _registered(terminal, accepted, operation, uploaded=upload)

        settle(client, terminal, accepted, human, wait=options.wait, timeout=options.timeout)


def _seal(
    client: ProvledgerClient, terminal: Terminal, file: Path, dataset: str | None, work: Path
) -> SealedUpload:
    """Seal ``file`` here and upload the sealed bytes (see :mod:`api.client.sealed`)."""
    from api.client.sealed import seal_and_upload

    size = file.stat().st_size
    with byte_progress(terminal, f"uploading {file.name} sealed", size) as report:
        sealed = seal_and_upload(
            client, file, dataset_id=dataset, work_dir=work, on_progress=report
        )
    terminal.status.print(
        f"sealed {size} bytes into {sealed.summary.sealed_size} "
        f"(sha256:{sealed.sealed['sha256'][2:]}), uploaded"
    )
    return sealed


def _registered(
    terminal: Terminal, accepted: Accepted, operation: OperationPublic | None, *, uploaded: bool
) -> None:
    resource = accepted.resource
    version = resource.get("version") or (operation.result.get("version") if operation else None)
    what = f"version {version}" if version else "a new version"
    how = "uploaded and hashed by the service" if uploaded else "hash only; the file stayed here"
    if "sealed" in resource:
        how = "sealed here; only the sealed bytes left"
    terminal.say(f"dataset {resource['dataset_id']} {what}")
    terminal.say(f"  content sha256:{resource['content_hash'][2:]} ({how})")
    earlier = [
        r
        for r in resource.get("registered_before", [])
        if r["dataset_id"] != resource["dataset_id"] or r["version"] != version
    ]
    if earlier:
        named = ", ".join(
            f"{r['dataset_id']}:{r['version']} (dept {r['department_id']})" for r in earlier
        )
        terminal.status.print(f"note: these bytes were registered before, as {named}")
    report_write(terminal, "  registration", operation, accepted.operation_id)


@datasets_app.command("list")
@with_options
def list_datasets(
    owner: Annotated[int | None, typer.Option(help="Only this department's datasets.")] = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    *,
    options: ServiceOptions,
) -> None:
    """Datasets this token may see, newest first (one page)."""
    with options.connect() as (client, terminal):
        page = client.list_datasets(owner=owner, cursor=cursor, limit=limit)

        def show_item(item: dict[str, Any]) -> None:
            title = (item.get("metadata") or {}).get("title", "")
            terminal.say(
                f"{item['dataset_id']}  dept {item['owner']}  {item['classification']}  "
                f"{item['status']}  v{item['version_count']}  {escape(title)}"
            )

        terminal.emit_page(page, show_item, if_empty="no datasets visible to this token")


@datasets_app.command("show")
@with_options
def show_dataset(
    dataset_id: DatasetArg,
    version: Annotated[int | None, typer.Option(min=1, help="Show only this version.")] = None,
    *,
    options: ServiceOptions,
) -> None:
    """A dataset with its versions (content hashes, parents, chain coordinates)."""
    with options.connect() as (client, terminal):
        if version is not None:
            answer = client.get_version(dataset_id, version)
            terminal.emit(answer, lambda: _show_version(terminal, answer))
            return
        answer = client.get_dataset(dataset_id)

        def human() -> None:
            metadata = answer.get("metadata") or {}
            terminal.say(f"dataset {answer['dataset_id']}: {escape(metadata.get('title', ''))}")
            terminal.say(
                f"  owner dept {answer['owner']}, {answer['classification']}, {answer['status']}, "
                f"{answer['version_count']} version(s), chain {answer['chain_id']}"
            )
            for key in ("description", "licence", "source_system"):
                if metadata.get(key):
                    terminal.say(f"  {key.replace('_', ' ')}: {escape(str(metadata[key]))}")
            if metadata.get("tags"):
                terminal.say(f"  tags: {escape(', '.join(metadata['tags']))}")
            for item in answer["versions"]:
                _show_version(terminal, item)

        terminal.emit(answer, human)


def _show_version(terminal: Terminal, item: dict[str, Any]) -> None:
    chain = item["chain"]
    parents = ", ".join(f"{p['dataset_id']}:{p['version']}" for p in item["parents"]) or "none"
    terminal.say(f"  v{item['version']} sha256:{item['content_hash'][2:]}")
    terminal.say(f"     parents {parents}")
    terminal.say(f"     tx {chain['tx_hash']} block {chain['block_number']}")
    note = (item.get("metadata") or {}).get("note")
    if note:
        terminal.say(f"     note: {escape(note)}")


@datasets_app.command("withdraw")
@with_options
def withdraw(
    dataset_id: DatasetArg,
    reason: ReasonOption = "",
    *,
    options: WriteOptions,
) -> None:
    """Withdraw one of your datasets: an event on chain; its history stays verifiable."""
    options.send(
        lambda client: client.withdraw_dataset(dataset_id, reason=reason),
        f"withdrawal of {dataset_id}",
    )
