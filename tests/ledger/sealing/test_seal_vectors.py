"""Known answers of the sealed stream format v1 (vectors/seal-v1.json), and one of them derived
again from docs/sealed-format.md with nothing but ``cryptography``'s HKDF and AES-GCM, so the
specification and the code cannot drift apart."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.sealing.stream import open_sealed, seal

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "seal-v1.json").read_text()
)
KEY = bytes.fromhex(VECTORS["content_key"])
SALT = bytes.fromhex(VECTORS["salt"])


def by_name(name: str) -> dict[str, Any]:
    return next(v for v in VECTORS["vectors"] if v["name"] == name)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_sealing_with_the_fixed_salt_gives_the_known_bytes(vector: dict[str, Any]) -> None:
    out = io.BytesIO()
    summary = seal(
        io.BytesIO(bytes.fromhex(vector["plaintext"])),
        out,
        KEY,
        chunk_size=vector["chunk_size"],
        fixed_salt_for_tests=SALT,
    )

    assert out.getvalue().hex() == vector["sealed"]
    assert summary.plaintext_sha256.value.hex() == vector["plaintext_sha256"]
    assert summary.sealed_sha256.value.hex() == vector["sealed_sha256"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_the_known_bytes_open_to_the_known_plaintext(vector: dict[str, Any]) -> None:
    out = io.BytesIO()
    open_sealed(io.BytesIO(bytes.fromhex(vector["sealed"])), out, KEY)
    assert out.getvalue().hex() == vector["plaintext"]


def test_the_specification_alone_derives_a_two_chunk_vector() -> None:
    """docs/sealed-format.md, written out: header, HKDF-SHA256 labels, nonces, AAD, frames."""
    vector = by_name("one chunk and one byte")
    plaintext = bytes.fromhex(vector["plaintext"])
    chunk_size = 16

    def hkdf(label: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=label).derive(KEY)

    file_key = hkdf(b"provledger sealed stream v1: file key")
    commitment = hkdf(b"provledger sealed stream v1: key commitment")
    header = b"\x89PLSEAL\n" + b"\x01" + struct.pack(">I", chunk_size) + SALT + commitment
    assert len(header) == 77

    expected = header
    pieces = [(0, 0, plaintext[:16]), (1, 1, plaintext[16:])]  # (index, final flag, bytes)
    for index, final, piece in pieces:
        clear = struct.pack(">IBI", index, final, len(piece))
        nonce = index.to_bytes(11, "big") + bytes([final])
        expected += clear + AESGCM(file_key).encrypt(nonce, piece, header + clear)

    assert expected.hex() == vector["sealed"]
    assert hashlib.sha256(expected).hexdigest() == vector["sealed_sha256"]
