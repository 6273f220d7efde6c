"""``provledger fetch``: a sealed version shared with this department, downloaded, checked and
opened here (:mod:`api.client.sealed`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from api.commands.common import ExitCode
from api.commands.options import ServiceOptions, with_options
from api.commands.receipts import acknowledge

commands = typer.Typer()

#: Where the passphrase of a self-custody encryption key file comes from.
PASSPHRASE_ENV = "PROVLEDGER_ENCRYPTION_KEY_PASSPHRASE"


def _target(text: str) -> tuple[str, int | None]:
    dataset, _, version = text.partition(":")
    if len(dataset) != 66 or not dataset.startswith("0x"):
        raise typer.BadParameter(f"expected 0xDATASET[:VERSION], got {text!r}")
    try:
        int(dataset[2:], 16)
        number = int(version) if version else None
    except ValueError:
        raise typer.BadParameter(f"expected 0xDATASET[:VERSION], got {text!r}") from None
    if number is not None and not 1 <= number < 2**32:
        raise typer.BadParameter(f"a version is 1 to {2**32 - 1}, got {number}")
    return dataset.lower(), number


@commands.command("fetch")
@with_options
def fetch_command(
    target: Annotated[
        str, typer.Argument(help="0xDATASET or 0xDATASET:VERSION (default: its latest version).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            help="The file to write: it appears only once whole, authenticated and equal to "
            "the content hash on chain. Rerun the same command to resume a broken download.",
        ),
    ],
    encryption_key: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="This department's own encryption key file (self-custody; its passphrase in "
            f"${PASSPHRASE_ENV}). Without it the service unwraps with the custodial key.",
        ),
    ] = None,
    receipt: Annotated[
        bool,
        typer.Option(
            help="Acknowledge the version received with a delivery receipt signed by this "
            "department's custodial key (anchored in a batch)."
        ),
    ] = True,
    *,
    options: ServiceOptions,
) -> None:
    """Fetch a sealed dataset version shared with this department: download, check and open it
    (only while the chain grants access).

    Exit 3 when refused (no grant), 8 when the grant was revoked or has expired, 7 when the
    bytes received do not open or open to other content than the chain holds (nothing is
    written)."""
    dataset, version = _target(target)
    key_pair = None
    if encryption_key is not None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
        if passphrase is None:
            raise typer.BadParameter(f"--encryption-key needs its passphrase in ${PASSPHRASE_ENV}")
        from ledger.errors import KeystoreError
        from ledger.sealing import unlock_key_pair

        try:
            key_pair = unlock_key_pair(encryption_key.read_bytes(), passphrase)
        except KeystoreError as exc:
            raise typer.BadParameter(f"--encryption-key: {exc}") from None
    from api.client.sealed import fetch_sealed
    from ledger.errors import SealError

    with options.connect() as (client, terminal):
        try:
            fetched = fetch_sealed(client, dataset, version, output, key_pair=key_pair)
        except SealError as exc:
            terminal.fail(exc.code, str(exc), ExitCode.TAMPERED)

        def human() -> None:
            resumed = f", resumed at byte {fetched.resumed_from}" if fetched.resumed_from else ""
            terminal.say(
                f"{fetched.path}: version {fetched.version} of {fetched.dataset_id}, "
                f"{fetched.size} bytes, sha256:{fetched.content_hash[2:]} as on chain{resumed}"
            )

        acknowledged = acknowledge(client, terminal, fetched) if receipt else None
        terminal.emit(
            {
                "path": str(fetched.path),
                "dataset_id": fetched.dataset_id,
                "version": fetched.version,
                "content_hash": fetched.content_hash,
                "size": fetched.size,
                "resumed_from": fetched.resumed_from,
                "receipt": acknowledged,
            },
            human,
        )
