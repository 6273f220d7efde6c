"""Content digests and metadata commitments.

Everything the ledger anchors on chain is a SHA-256 digest: of a dataset's bytes
(:func:`sha256_file`, :func:`sha256_stream`) or of its metadata in RFC 8785 canonical JSON
(:func:`metadata_commitment`). SHA-256 rather than keccak-256 because it is what dataset
publishers, ``sha256sum`` and transparency-log tooling already speak, and the EVM still checks
it cheaply through its precompile.

This module is pure: it imports only the standard library and ``rfc8785``.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

import rfc8785

from ledger.errors import CanonicalizationError, InvalidDigestError, InvalidInputError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DIGEST_SIZE",
    "Digest",
    "canonical_json",
    "metadata_commitment",
    "sha256_bytes",
    "sha256_file",
    "sha256_stream",
]

DIGEST_SIZE = 32
"""Length in bytes of every digest the ledger handles (SHA-256, ``bytes32`` on chain)."""

DEFAULT_CHUNK_SIZE = 1 << 20
"""Read size for streaming hashes: large enough that per-call overhead vanishes next to the
hashing itself, small enough to stay cache- and memory-friendly."""

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")

# Beyond ±(2**53 - 1) not every integer has its own double (I-JSON, RFC 7493 §2.2).
_MAX_SAFE_INTEGER = 2**53 - 1


@dataclass(frozen=True, slots=True, repr=False)
class Digest:
    """A SHA-256 digest: exactly 32 bytes, compared and hashed by value.

    The text forms are ``0x``-prefixed lowercase hex (:meth:`hex`, matching ``bytes32`` in
    the chain's JSON-RPC) and ``sha256:<hex>`` (:func:`str`, the algorithm-tagged form used in
    logs and OCI-style references).
    """

    value: bytes

    def __post_init__(self) -> None:
        # Only immutable ``bytes``: a bytearray could change under a frozen, hashable value.
        if not isinstance(self.value, bytes):
            raise InvalidDigestError(f"digest must be bytes, got {type(self.value).__name__}")
        if len(self.value) != DIGEST_SIZE:
            raise InvalidDigestError(f"expected {DIGEST_SIZE} bytes, got {len(self.value)}")
        if type(self.value) is not bytes:
            # Subclasses such as web3's HexBytes override hex() and repr(); store plain bytes.
            object.__setattr__(self, "value", bytes(self.value))

    @classmethod
    def from_hex(cls, text: str) -> Digest:
        """Parse ``0x`` followed by exactly 64 hex digits (either case).

        Strict on purpose: no whitespace, no missing prefix, no ``sha256:`` form. A digest
        that names on-chain evidence should be spelled one way.
        """
        if not isinstance(text, str):
            raise InvalidDigestError(f"digest text must be a str, got {type(text).__name__}")
        if not text.startswith("0x"):
            raise InvalidDigestError(f"digest must start with '0x': {_preview(text)}")
        body = text[2:]
        if len(body) != 2 * DIGEST_SIZE:
            raise InvalidDigestError(
                f"expected {2 * DIGEST_SIZE} hex digits after '0x', got {len(body)}"
            )
        # A regex, not bytes.fromhex alone: fromhex skips whitespace.
        if _HEX_DIGEST.fullmatch(body) is None:
            raise InvalidDigestError(f"digest has non-hex characters: {_preview(text)}")
        return cls(bytes.fromhex(body))

    def hex(self) -> str:
        """Return ``0x`` + 64 lowercase hex digits."""
        return "0x" + self.value.hex()

    def __bytes__(self) -> bytes:
        return self.value

    def __str__(self) -> str:
        return "sha256:" + self.value.hex()

    def __repr__(self) -> str:
        return f"Digest.from_hex({self.hex()!r})"


def _preview(text: str, limit: int = 80) -> str:
    """Quote *text* for an error message, cut short so hostile input cannot flood logs."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def sha256_bytes(data: bytes | bytearray | memoryview) -> Digest:
    """Return the SHA-256 digest of *data*."""
    return Digest(hashlib.sha256(data).digest())


def sha256_stream(
    stream: BinaryIO,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> Digest:
    """Hash a binary stream from its current position to EOF, in constant memory.

    ``on_progress`` is called after each chunk with the total number of bytes hashed so far
    (cumulative, so a progress bar can show it directly and no call is load-bearing).
    """
    if chunk_size <= 0:
        raise InvalidInputError(f"chunk_size must be positive, got {chunk_size}")
    hasher = hashlib.sha256()
    total = 0
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        # One buffer for the whole stream: readinto fills it in place, and hashing a
        # memoryview slice copies nothing, so memory stays flat however large the file.
        # An anonymous mmap rather than a bytearray, because it starts on a page boundary:
        # malloc places a large bytearray 16 bytes past one, and the kernel copies file pages
        # into such a buffer several times slower (2.2 vs 8 GB/s on the benchmark machine),
        # which cost a third of the hashing speed (bench/hashing.py).
        buffer = mmap.mmap(-1, chunk_size)
        view = memoryview(buffer)
        try:
            while True:
                size = readinto(view)
                if size is None:
                    # Only non-blocking streams return None; treating it as EOF would silently
                    # produce the digest of a prefix.
                    raise InvalidInputError("stream is non-blocking and has no data ready")
                if not size:
                    break
                hasher.update(view if size == chunk_size else view[:size])
                total += size
                if on_progress is not None:
                    on_progress(total)
        finally:
            view.release()
            # A stream that kept a view of the buffer keeps the mapping until it lets go.
            with contextlib.suppress(BufferError):
                buffer.close()
    else:
        while chunk := stream.read(chunk_size):
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise InvalidInputError("stream must be opened in binary mode")
            hasher.update(chunk)
            total += len(chunk)
            if on_progress is not None:
                on_progress(total)
    return Digest(hasher.digest())


def sha256_file(
    path: str | os.PathLike[str],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> Digest:
    """Hash the file at *path* in constant memory; see :func:`sha256_stream`."""
    # Unbuffered: readinto then fills our buffer straight from the kernel, with no extra
    # copy through a BufferedReader.
    with open(path, "rb", buffering=0) as stream:
        return sha256_stream(stream, on_progress=on_progress)


def canonical_json(value: object) -> bytes:
    """Serialise *value* as RFC 8785 (JCS) canonical JSON, as UTF-8 bytes.

    Accepts ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``/``tuple`` and ``dict``
    with ``str`` keys. Rejects, with :class:`~ledger.errors.CanonicalizationError`,
    non-finite floats, non-string keys, unpaired surrogates, other types, and integers that
    the canonical form cannot carry.

    JCS numbers are IEEE 754 doubles. An integer beyond ±(2**53 - 1) is accepted when the
    number JCS writes for its double denotes that very integer (``10**20``,
    ``69048044002861620``), and refused when it would silently change (``2**53 + 1``). This
    matters because JCS writes large integral doubles as plain digits, which ``json.loads``
    reads back as ``int``: canonical output must canonicalise again to itself.
    """
    try:
        return rfc8785.dumps(_as_jcs_value(value))  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"cannot canonicalise metadata: {exc}") from exc
    except UnicodeEncodeError as exc:
        # rfc8785 sorts keys by their UTF-16 encoding, which raises this (rather than its
        # own error) for a key holding an unpaired surrogate.
        raise CanonicalizationError("cannot canonicalise metadata: unpaired surrogate") from exc
    except RecursionError:
        raise CanonicalizationError("cannot canonicalise metadata: nested too deeply") from None


def _as_jcs_value(value: object) -> object:
    """Replace integers outside the safe range by their double, or refuse if that loses them."""
    if isinstance(value, dict):
        return {key: _as_jcs_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_jcs_value(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
            return value
        # Name huge values by size: str() of a 10,000-digit int raises, and floods logs.
        shown = str(value) if value.bit_length() <= 256 else f"of {value.bit_length()} bits"
        try:
            as_double = float(value)
        except OverflowError:
            raise CanonicalizationError(
                f"cannot canonicalise metadata: integer {shown} exceeds the range of a double"
            ) from None
        written = rfc8785.dumps(as_double).decode()
        if Decimal(written) != value:
            raise CanonicalizationError(
                f"cannot canonicalise metadata: integer {shown} would be written as {written} "
                "(RFC 8785 numbers are IEEE 754 doubles); send it as a string"
            )
        return as_double
    return value


def metadata_commitment(value: object) -> Digest:
    """Return SHA-256 of :func:`canonical_json` of *value*: equal metadata, equal digest."""
    return sha256_bytes(canonical_json(value))
