"""Sealed data exchange (issue 13): datasets shared encrypted, their content keys wrapped with
HPKE to each recipient's encryption key.

Pure code (the standard library and ``cryptography``): no chain, database or HTTP. The stream
format is specified in ``docs/sealed-format.md``.
"""

from ledger.sealing.layout import CONTENT_KEY_SIZE, DEFAULT_CHUNK_SIZE, Header, Layout
from ledger.sealing.stream import (
    OpenSummary,
    SealSummary,
    open_sealed,
    open_sealed_from,
    open_to_path,
    read_header,
    seal,
)

__all__ = [
    "CONTENT_KEY_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "Header",
    "Layout",
    "OpenSummary",
    "SealSummary",
    "open_sealed",
    "open_sealed_from",
    "open_to_path",
    "read_header",
    "seal",
]
