"""Reading a manifest of files and their SHA-256 hashes: what a catalogue audit is given.

Two formats, told apart line by line:

* ``sha256sum`` output: ``<64 hex digits>  <name>`` (or `` *<name>`` for binary mode);
* JSON lines: ``{"sha256": "<hex>", "path": "<name>"}``, the hash also accepted as
  ``content_hash`` and with or without ``0x``, the name also as ``name`` or ``file``.

Blank lines and ``#`` comments are skipped. A line that is neither is an error naming its
number: an audit that silently skipped lines would report a catalogue smaller than it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.errors import InvalidInputError
from ledger.hashing import Digest

_SHA256SUM = re.compile(r"^\\?([0-9a-fA-F]{64}) [ *](.+)$")
_HASH_KEYS = ("sha256", "content_hash", "hash")
_NAME_KEYS = ("path", "name", "file")


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    name: str
    digest: Digest


def read_manifest(lines: Iterable[str]) -> list[ManifestEntry]:
    """The entries of a manifest, in order (see the module for the formats)."""
    entries = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entries.append(_entry(line, number))
    return entries


def _entry(line: str, number: int) -> ManifestEntry:
    if line.lstrip().startswith("{"):
        try:
            document = json.loads(line)
        except ValueError as exc:
            raise InvalidInputError(f"manifest line {number}: not valid JSON ({exc})") from exc
        value = next((document[k] for k in _HASH_KEYS if k in document), None)
        if not isinstance(value, str):
            raise InvalidInputError(
                f"manifest line {number}: no sha256 (or content_hash) string in the object"
            )
        name = next((document[k] for k in _NAME_KEYS if k in document), "")
        return ManifestEntry(str(name), _digest(value, number))
    matched = _SHA256SUM.match(line)
    if matched is None:
        raise InvalidInputError(
            f"manifest line {number}: expected sha256sum output ('<64 hex digits>  <name>') "
            "or a JSON object"
        )
    return ManifestEntry(matched.group(2), _digest(matched.group(1), number))


def _digest(value: str, number: int) -> Digest:
    text = value if value.startswith(("0x", "0X")) else "0x" + value
    try:
        return Digest.from_hex(text)
    except (InvalidInputError, ValueError) as exc:
        raise InvalidInputError(f"manifest line {number}: {exc}") from exc


__all__ = ["ManifestEntry", "read_manifest"]
