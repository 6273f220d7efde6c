"""Departments' encryption keys at a terminal: ``provledger keys …``.

``publish`` publishes the token's department's HPKE public key on chain: one the service
generates and keeps (the default), or the department's own (``--public-key FILE``, holding the
key's encoding: two bytes of KEM id, then the raw key, as bytes or as hex text). ``show`` prints
a department's key in force, or every key it published (``--history``).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.commands.common import (
    CursorOption,
    ExitCode,
    LimitOption,
    Terminal,
    human_time,
    report_write,
    settle,
)
from api.commands.options import ServiceOptions, WriteOptions, with_options

if TYPE_CHECKING:
    from api.schemas import OperationPublic

keys_app = typer.Typer(
    name="keys",
    help="Publish and show departments' encryption keys (HPKE public keys on chain).",
    no_args_is_help=True,
)

#: A key file is a few kilobytes at most (the hybrid's encoding is 1,218 bytes; hex, twice).
_MAX_KEY_FILE = 8 << 10


class KemChoice(enum.StrEnum):
    """The KEMs the key directory accepts, as the API names them."""

    X25519 = "x25519"
    MLKEM768_X25519 = "mlkem768-x25519"


def read_public_key(path: Path) -> bytes:
    """The encoded public key in ``path`` (bytes, or hex text with or without 0x), checked
    here so that a wrong file is a usage error and nothing is sent."""
    from ledger.errors import EncryptionKeyFormatError
    from ledger.sealing import EncryptionPublicKey

    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="--public-key"
        ) from exc
    if len(data) > _MAX_KEY_FILE:
        raise typer.BadParameter(f"{path} is larger than any public key", param_hint="--public-key")
    text = data.strip().removeprefix(b"0x")
    try:
        encoded = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        encoded = data  # not hex text: the encoding itself
    try:
        return EncryptionPublicKey.decode(encoded).encode()
    except EncryptionKeyFormatError as exc:
        raise typer.BadParameter(
            f"{path}: {exc} (expected the key's encoding: 2-byte KEM id, then the raw key)",
            param_hint="--public-key",
        ) from exc


@keys_app.command("publish")
@with_options
def publish(
    kem: Annotated[
        KemChoice | None,
        typer.Option(
            help="KEM of the key pair the service generates (default mlkem768-x25519, the "
            "post-quantum hybrid); with --public-key, the key's own."
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            dir_okay=False,
            help="Publish this public key (the department keeps its private key) instead of one "
            "the service generates. The file holds the key's encoding, as bytes or hex.",
        ),
    ] = None,
    *,
    options: WriteOptions,
) -> None:
    """Publish the token's department's encryption key; it replaces the key in force (the
    earlier ones stay on chain, and with the service if it generated them)."""
    encoded = None if public_key is None else read_public_key(public_key)
    with options.connect() as (client, terminal):
        department_id = _token_department(client.whoami(), terminal)
        accepted = client.publish_encryption_key(
            department_id,
            kem=None if kem is None else kem.value,
            public_key=encoded,
        )
        resource = accepted.resource

        def human(operation: OperationPublic | None) -> None:
            held = "kept by the service" if resource["custodial"] else "held by the department"
            terminal.say(
                f"department {department_id} encryption key {resource['fingerprint']} "
                f"({resource['kem']}, private key {held})"
            )
            report_write(terminal, "  published", operation, accepted.operation_id)

        settle(client, terminal, accepted, human, wait=options.wait, timeout=options.timeout)


def _token_department(me: dict[str, Any], terminal: Terminal) -> int:
    if me.get("kind") != "department" or me.get("department_id") is None:
        terminal.fail(
            "forbidden",
            f"a department publishes its own key: this token is {me.get('kind')}'s",
            ExitCode.REFUSED,
        )
    return int(me["department_id"])


@keys_app.command("show")
@with_options
def show(
    department: Annotated[int, typer.Argument(min=1, help="The department's id.")],
    history: Annotated[
        bool, typer.Option("--history", help="Every key it published, newest first.")
    ] = False,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    *,
    options: ServiceOptions,
) -> None:
    """A department's encryption key in force, checked against the chain's key directory."""
    with options.connect() as (client, terminal):
        if history:
            page = client.encryption_keys(department, cursor=cursor, limit=limit)
            terminal.emit_page(
                page,
                lambda item: _show_key(terminal, item, brief=True),
                if_empty=f"department {department} has published no encryption key",
            )
            return
        answer = client.encryption_key(department)
        terminal.emit(answer, lambda: _show_key(terminal, answer, brief=False))


def _show_key(terminal: Terminal, key: dict[str, Any], *, brief: bool) -> None:
    published = key["published"]
    terminal.say(
        f"department {key['department_id']} key {key['serial']}: {key['kem']}, "
        f"fingerprint {key['fingerprint']}, published {human_time(published['block_time'])}"
    )
    if not brief:
        terminal.say(f"  block {published['block_number']}, tx {published['tx_hash']}")
        terminal.say(f"  public key {key['public_key']}")
