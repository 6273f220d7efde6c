"""Sealed data exchange (issue 13): datasets shared encrypted, their content keys wrapped with
HPKE to each recipient's encryption key.

Pure code (the standard library and ``cryptography``): no chain, database or HTTP. The stream
format is specified in ``docs/sealed-format.md``.
"""

from ledger.sealing.keypairs import DEFAULT_SUITE, EncryptionKeyPair, EncryptionPublicKey, Suite
from ledger.sealing.keystore import EncryptionKeystore, lock_key_pair, unlock_key_pair
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
from ledger.sealing.wrapping import KeyBinding, WrappedKey, unwrap_content_key, wrap_content_key

__all__ = [
    "CONTENT_KEY_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_SUITE",
    "EncryptionKeyPair",
    "EncryptionKeystore",
    "EncryptionPublicKey",
    "Header",
    "KeyBinding",
    "Layout",
    "OpenSummary",
    "SealSummary",
    "Suite",
    "WrappedKey",
    "lock_key_pair",
    "open_sealed",
    "open_sealed_from",
    "open_to_path",
    "read_header",
    "seal",
    "unlock_key_pair",
    "unwrap_content_key",
    "wrap_content_key",
]
