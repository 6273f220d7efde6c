"""``provledger receipts``: delivery receipts of sealed versions, listed, proven and checked
(:mod:`ledger.service.receipts`); and the receipt ``provledger fetch`` posts after a fetch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.commands.common import (
    DEFAULT_URL,
    ExitCode,
    JsonOption,
    LimitOption,
    Terminal,
    UrlOption,
    hex_id,
)
from api.commands.options import ServiceOptions, with_options

if TYPE_CHECKING:
    from api.client import ProvledgerClient
    from api.client.sealed import FetchedFile

receipts_app = typer.Typer(
    name="receipts",
    help="Delivery receipts of sealed versions: list, prove (a bundle) and check on chain.",
    no_args_is_help=True,
)

IdArg = Annotated[str, typer.Argument(callback=hex_id, help="0x and 64 hex digits.")]


def acknowledge(
    client: ProvledgerClient, terminal: Terminal, fetched: FetchedFile
) -> dict[str, Any] | None:
    """Post the receipt of a version just fetched, signed by the department's custodial key;
    a refusal (a self-custody department, a grant ended meanwhile) is reported, not fatal: the
    file was received and checked either way."""
    from api.client import ClientError

    try:
        answer = client.post_receipt(
            fetched.dataset_id,
            fetched.version,
            content_hash=fetched.content_hash,
            sealed_sha256=fetched.sealed_sha256,
        )
    except ClientError as exc:
        terminal.status.print(f"receipt not recorded: {exc}")
        return {"error": str(exc)}
    terminal.status.print(f"receipt {answer['receipt_id']} ({answer['status']})")
    return answer


@receipts_app.command("list")
@with_options
def list_receipts(dataset_id: IdArg, limit: LimitOption = 100, *, options: ServiceOptions) -> None:
    """Receipts of a dataset, newest first: all of them for its owner and auditors, its own
    for any other department."""
    with options.connect() as (client, terminal):
        answer = client.dataset_receipts(dataset_id, limit=limit)

        def human() -> None:
            if not answer["receipts"]:
                terminal.say("no receipts visible to this token")
            for item in answer["receipts"]:
                terminal.say(
                    f"{item['receipt_id']}  dept {item['department_id']}  v{item['version']}  "
                    f"request {item['request_id']}  time {item['time']}  {item['status']}"
                )

        terminal.emit(answer, human)


@receipts_app.command("prove")
@with_options
def prove_receipt(
    receipt_id: IdArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", dir_okay=False, help="Where to write the bundle.")
    ],
    *,
    options: ServiceOptions,
) -> None:
    """Write a receipt's offline proof bundle (typed data, signature, inclusion proof, anchor):
    ``provledger receipts check`` checks it against any node. Exit 6 while not anchored yet."""
    with options.connect() as (client, terminal):
        bundle = client.receipt(receipt_id)
        output.write_text(json.dumps(bundle, indent=2, sort_keys=True) + "\n")
        if bundle.get("anchor") is None and bundle.get("status") != "signed":
            terminal.fail(
                "not-anchored",
                f"receipt {receipt_id} is {bundle.get('status')}: its batch is not anchored yet "
                f"(the bundle written to {output} proves its signature only)",
                ExitCode.PENDING,
            )
        terminal.emit(
            {"path": str(output), "status": bundle.get("status")},
            lambda: terminal.say(f"{output}: receipt {receipt_id} ({bundle.get('status')})"),
        )


@receipts_app.command("check")
def check_receipt(
    bundle_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A bundle from `receipts prove`.")
    ],
    rpc: Annotated[
        str | None,
        typer.Option(help="JSON-RPC URL of any node of the chain (default: the service's /rpc)."),
    ] = None,
    access_registry: Annotated[
        str | None,
        typer.Option(help="The deployment's AccessRegistry (default: as the bundle names it)."),
    ] = None,
    anchor_registry: Annotated[
        str | None,
        typer.Option(help="The deployment's AnchorRegistry (default: as the bundle names it)."),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Check a receipt's bundle offline and against the chain: who received which version,
    under which grant, when, signed by its key, anchored by the same key. Exit 7, naming the
    claim, when any does not hold. Pin the registries with --access-registry and
    --anchor-registry (from your deployment record) to trust nothing the bundle says."""
    from ledger.anchoring.receipts import check_bundle_on_chain
    from ledger.chain.backend import Chain
    from ledger.chain.clients.access import AccessRegistryClient
    from ledger.chain.clients.anchors import AnchorRegistryClient
    from ledger.errors import InvalidProofError, LedgerError
    from ledger.verifier import Verifier

    terminal = Terminal(as_json)
    try:
        bundle = json.loads(bundle_file.read_text())
        deployment = bundle["deployment"]
    except (ValueError, KeyError, TypeError) as exc:
        terminal.fail("invalid-proof", f"not a receipt bundle: {exc}", ExitCode.TAMPERED)
    chain = Chain.rpc(rpc or url.rstrip("/") + "/rpc")
    try:
        verifier = Verifier.at(chain, str(deployment["dataset_registry"]))
        verdict = check_bundle_on_chain(
            verifier,
            AccessRegistryClient(chain, access_registry or str(deployment["access_registry"])),
            AnchorRegistryClient(chain, anchor_registry or str(deployment["anchor_registry"])),
            bundle,
        )
    except InvalidProofError as exc:
        terminal.fail(exc.code, exc.message, ExitCode.TAMPERED)
    except LedgerError as exc:
        terminal.fail(exc.code, exc.message, ExitCode.UNAVAILABLE)
    finally:
        chain.close()
    receipt = verdict.receipt

    def human() -> None:
        where = (
            f"anchored in block {verdict.block_number} ({verdict.tx_hash})"
            if verdict.anchored
            else "not anchored: its signature alone"
        )
        terminal.say(
            f"department {receipt['departmentId']} received version {receipt['version']} of "
            f"{receipt['datasetId']} under request {receipt['requestId']} at time "
            f"{receipt['time']}, signed by {verdict.signer}; {where}"
        )
        for line in verdict.checks:
            terminal.say(f"  ok  {line}")

    terminal.emit(
        {
            "receipt": receipt,
            "signer": verdict.signer,
            "anchored": verdict.anchored,
            "block_number": verdict.block_number,
            "tx_hash": verdict.tx_hash,
            "checks": list(verdict.checks),
        },
        human,
    )
