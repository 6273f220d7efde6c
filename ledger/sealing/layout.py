"""The sealed stream format, version 1: constants, header, key derivation, nonces and offsets.

The specification is ``docs/sealed-format.md``; this module is its executable half and the
stream code (:mod:`ledger.sealing.stream`) builds on nothing else. In short::

    header  = magic(8) ‖ version(1) ‖ chunk_size(u32) ‖ salt(32) ‖ key_commitment(32)
    chunk_i = index(u32) ‖ final(u8) ‖ length(u32) ‖ AES-256-GCM(file_key, nonce_i,
              plaintext_i, aad = header ‖ index ‖ final ‖ length) (ciphertext ‖ 16-byte tag)
    nonce_i = index as 11 bytes big-endian ‖ final

Every integer is big-endian. Every chunk but the final one holds exactly ``chunk_size`` bytes
of plaintext, so the offset of chunk *i* is computable (:meth:`Layout.chunk_offset`) and a
download can resume from any chunk.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.errors import (
    InvalidInputError,
    SealFormatError,
    SealKeyError,
    SealTruncatedError,
    SealVersionError,
)

__all__ = [
    "CHUNK_HEADER_SIZE",
    "COMMITMENT_SIZE",
    "CONTENT_KEY_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_CHUNKS",
    "MAX_CHUNK_SIZE",
    "SALT_SIZE",
    "TAG_SIZE",
    "VERSION",
    "Header",
    "Layout",
    "chunk_header",
    "chunk_nonce",
    "derive_keys",
    "parse_chunk_header",
]

MAGIC: Final = b"\x89PLSEAL\n"
"""First bytes of every sealed stream. The high-bit first byte and the final newline make a
text-mode transfer (which strips the high bit or rewrites line ends) visibly break the file,
as PNG's signature does."""

VERSION: Final = 1
"""The format version this module writes and reads."""

CONTENT_KEY_SIZE: Final = 32
"""Length of a content key: 32 random bytes, the secret that is wrapped to each recipient."""

SALT_SIZE: Final = 32
"""Length of the header's random salt, which makes each sealed file's key its own."""

COMMITMENT_SIZE: Final = 32
"""Length of the header's key commitment."""
TAG_SIZE: Final = 16
"""Length of the AES-GCM authentication tag that ends every chunk."""

_HEADER = struct.Struct(f">{len(MAGIC)}sBI{SALT_SIZE}s{COMMITMENT_SIZE}s")
_CHUNK_HEADER = struct.Struct(">IBI")
HEADER_SIZE: Final = _HEADER.size
"""Length of the stream header: 77 bytes."""
CHUNK_HEADER_SIZE: Final = _CHUNK_HEADER.size
"""Length of the clear header in front of each chunk (index, final flag, length): 9 bytes."""

MAX_CHUNK_SIZE: Final = 1 << 24
"""Largest chunk size a header may declare (16 MiB): an opener holds one chunk in memory, so a
hostile header must not make it allocate more."""

MAX_CHUNKS: Final = 1 << 32
"""Most chunks one stream may have: the index is a u32."""

DEFAULT_CHUNK_SIZE: Final = 1 << 20
"""1 MiB, by measurement (``bench/exchange.py``, bench/RESULTS.md): per CPU second it seals and
opens files a little faster than 64 KiB chunks (fewer reads, writes and calls), 4 MiB gains
nothing and triples the memory; its three buffers keep sealing near 4 MiB over the process."""

_FILE_KEY_INFO: Final = b"provledger sealed stream v1: file key"
_COMMITMENT_INFO: Final = b"provledger sealed stream v1: key commitment"
_FINAL, _NOT_FINAL = 1, 0


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed stream header. ``raw`` is the header's bytes exactly as read, which every
    chunk authenticates as associated data."""

    chunk_size: int
    salt: bytes
    key_commitment: bytes
    raw: bytes

    @classmethod
    def build(cls, content_key: bytes, salt: bytes, chunk_size: int) -> tuple[Header, bytes]:
        """A header for a new stream, and the file key it commits to."""
        file_key, commitment = derive_keys(content_key, salt)
        raw = _HEADER.pack(MAGIC, VERSION, chunk_size, salt, commitment)
        return cls(chunk_size, salt, commitment, raw), file_key

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        """Parse the first bytes of a stream (up to :data:`HEADER_SIZE` of them).

        Raises :class:`~ledger.errors.SealFormatError` if they are not a sealed stream,
        :class:`~ledger.errors.SealVersionError` for a version other than 1 and
        :class:`~ledger.errors.SealTruncatedError` if the stream ends inside its header.
        """
        magic = raw[: len(MAGIC)]
        if not raw or not MAGIC.startswith(magic):
            raise SealFormatError("not a sealed stream: it does not start with the magic bytes")
        if len(raw) <= len(MAGIC):
            raise SealTruncatedError(f"the stream ends after {len(raw)} bytes, inside its header")
        if raw[len(MAGIC)] != VERSION:
            raise SealVersionError(
                f"sealed stream format version {raw[len(MAGIC)]}, this code reads version {VERSION}"
            )
        if len(raw) < HEADER_SIZE:
            raise SealTruncatedError(f"the stream ends after {len(raw)} bytes, inside its header")
        _, _, chunk_size, salt, commitment = _HEADER.unpack(raw[:HEADER_SIZE])
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise SealFormatError(
                f"the header declares chunks of {chunk_size} bytes: expected 1 to {MAX_CHUNK_SIZE}"
            )
        return cls(chunk_size, salt, commitment, bytes(raw[:HEADER_SIZE]))

    def file_key(self, content_key: bytes) -> bytes:
        """The key this stream's chunks are sealed under, once *content_key* is shown to be the
        one the header commits to.

        Raises :class:`~ledger.errors.SealKeyError` otherwise: AES-GCM alone would accept a
        second key that someone built to open the same chunks to other plaintext; the
        commitment makes the stream open under one key only.
        """
        file_key, commitment = derive_keys(content_key, self.salt)
        if not hmac.compare_digest(commitment, self.key_commitment):
            raise SealKeyError(
                "the content key does not open this stream (wrong key, or its header was altered)"
            )
        return file_key


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are in a stream of a given chunk size: offsets for resuming and ranged
    reads, and sizes for checking a download is whole."""

    chunk_size: int

    @property
    def frame_size(self) -> int:
        """Sealed bytes of one full chunk: its header, ``chunk_size`` bytes and the tag."""
        return CHUNK_HEADER_SIZE + self.chunk_size + TAG_SIZE

    def chunk_count(self, plaintext_size: int) -> int:
        """Chunks of a plaintext of *plaintext_size* bytes (an empty one still has one)."""
        return max(1, -(-plaintext_size // self.chunk_size))

    def chunk_offset(self, index: int) -> int:
        """Offset in the sealed stream where chunk *index* begins."""
        return HEADER_SIZE + index * self.frame_size

    def plaintext_offset(self, index: int) -> int:
        """Offset in the plaintext of the first byte chunk *index* holds."""
        return index * self.chunk_size

    def sealed_size(self, plaintext_size: int) -> int:
        """Exact length of the sealed stream of a plaintext of *plaintext_size* bytes."""
        overhead = CHUNK_HEADER_SIZE + TAG_SIZE
        return HEADER_SIZE + self.chunk_count(plaintext_size) * overhead + plaintext_size


def derive_keys(content_key: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """The file key and the key commitment of a stream: HKDF-SHA256 of the content key, salted
    with the header's salt, each under its own label."""
    if len(content_key) != CONTENT_KEY_SIZE:
        raise InvalidInputError(
            f"a content key is {CONTENT_KEY_SIZE} bytes, got {len(content_key)}"
        )
    if len(salt) != SALT_SIZE:
        raise InvalidInputError(f"a stream salt is {SALT_SIZE} bytes, got {len(salt)}")
    return _hkdf(content_key, salt, _FILE_KEY_INFO), _hkdf(content_key, salt, _COMMITMENT_INFO)


def chunk_header(index: int, final: bool, length: int) -> bytes:
    """The 9 clear bytes in front of a chunk: its index, final flag and plaintext length."""
    return _CHUNK_HEADER.pack(index, _FINAL if final else _NOT_FINAL, length)


def parse_chunk_header(raw: bytes | memoryview) -> tuple[int, int, int]:
    """Index, final flag byte (unchecked) and plaintext length of a chunk header."""
    index, flag, length = _CHUNK_HEADER.unpack(raw)
    return index, flag, length


def chunk_nonce(index: int, final: bool) -> bytes:
    """The GCM nonce of a chunk: the index as 11 big-endian bytes, then 1 if final else 0
    (the STREAM construction, as in age): no two chunks of a file share a nonce, and a chunk
    authenticates only at its index and with its own finality."""
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)
