"""Content keys wrapped with HPKE (RFC 9180, base mode) to one department's encryption key, for
one sealed version of a dataset on one chain.

The HPKE ``info`` binds the wrap to its context, so a wrapped key opens only where it was meant
to: the chain id, the dataset registry's address, the dataset id, the SHA-256 of the sealed
bytes it opens (committed on chain by the version's metadata), the recipient department and the
fingerprint of the recipient's key. A wrapped key copied to another dataset, sealed version,
department or chain, or kept past a key rotation, fails to unwrap. The sealed bytes' hash
names the version rather than its number because an appended version's number is known only
once it is mined, and the key is wrapped before: each seal has a fresh salt, so no two
versions share it.

``info`` is canonical: the label and each field in this order, each preceded by its length as
two big-endian bytes, integers big-endian at their Solidity width::

    "provledger wrapped content key v1" ‖ chainId (uint256, 32) ‖ registry (address, 20)
    ‖ datasetId (bytes32, 32) ‖ sealedSha256 (32) ‖ departmentId (uint64, 8)
    ‖ recipientKeyFingerprint (SHA-256, 32)

A wrapped key's encoding: ``format version (1) ‖ suite (1) ‖ recipient fingerprint (32) ‖ HPKE
encapsulated key ‖ AEAD ciphertext of the content key (32 + 16)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from ledger.errors import InvalidInputError, WrappedKeyError, WrappedKeySuiteError
from ledger.hashing import DIGEST_SIZE, Digest
from ledger.sealing.keypairs import KEM_ID_SIZE, EncryptionKeyPair, EncryptionPublicKey, Suite
from ledger.sealing.layout import CONTENT_KEY_SIZE, TAG_SIZE

__all__ = ["KeyBinding", "WrappedKey", "unwrap_content_key", "wrap_content_key"]

_LABEL = b"provledger wrapped content key v1"
_FORMAT = 1
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@dataclass(frozen=True, slots=True)
class KeyBinding:
    """Where a wrapped content key may be used: one sealed version of a dataset, for one
    department, on one deployment. ``registry`` is the DatasetRegistry's address (20 bytes or
    ``0x`` + 40 hex digits); ``dataset_id`` the dataset's ``bytes32`` id; ``sealed_sha256``
    the SHA-256 of the sealed stream (the blob's address)."""

    chain_id: int
    registry: bytes | str
    dataset_id: bytes
    sealed_sha256: Digest
    recipient_department: int

    def __post_init__(self) -> None:
        registry = self.registry
        if isinstance(registry, str):
            if _ADDRESS.fullmatch(registry) is None:
                raise InvalidInputError(f"registry must be 0x + 40 hex digits, got {registry!r}")
            object.__setattr__(self, "registry", bytes.fromhex(registry[2:]))
        elif len(registry) != 20:
            raise InvalidInputError(f"registry must be 20 bytes, got {len(registry)}")
        if len(self.dataset_id) != 32:
            raise InvalidInputError(f"dataset_id must be 32 bytes, got {len(self.dataset_id)}")
        _check_range("chain_id", self.chain_id, 256)
        if not isinstance(self.sealed_sha256, Digest):
            raise InvalidInputError(
                f"sealed_sha256 must be a Digest, got {type(self.sealed_sha256).__name__}"
            )
        _check_range("recipient_department", self.recipient_department, 64)

    def info(self, recipient: Digest) -> bytes:
        """The HPKE ``info`` for wrapping to the key whose fingerprint is *recipient*."""
        assert isinstance(self.registry, bytes)  # normalised in __post_init__
        fields = (
            _LABEL,
            self.chain_id.to_bytes(32, "big"),
            self.registry,
            bytes(self.dataset_id),
            self.sealed_sha256.value,
            self.recipient_department.to_bytes(8, "big"),
            recipient.value,
        )
        return b"".join(len(field).to_bytes(2, "big") + field for field in fields)


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A content key wrapped to one recipient key: the suite, that key's fingerprint, and the
    HPKE output (encapsulated key ‖ ciphertext)."""

    suite: Suite
    recipient_fingerprint: Digest
    ciphertext: bytes

    def __post_init__(self) -> None:
        expected = self.suite.encapsulation_size + CONTENT_KEY_SIZE + TAG_SIZE
        if len(self.ciphertext) != expected:
            raise WrappedKeyError(
                f"a {self.suite.label} wrapped key is {expected} bytes of HPKE output, got "
                f"{len(self.ciphertext)}"
            )

    def encode(self) -> bytes:
        """``format ‖ kem id ‖ recipient fingerprint ‖ HPKE output``, for storage and transfer."""
        head = bytes([_FORMAT]) + self.suite.tag
        return head + self.recipient_fingerprint.value + self.ciphertext

    @classmethod
    def decode(cls, data: bytes) -> WrappedKey:
        """Parse :meth:`encode`'s bytes; raises :class:`~ledger.errors.WrappedKeyError` if they
        are not a wrapped key."""
        start = 1 + KEM_ID_SIZE
        if len(data) < start + DIGEST_SIZE or data[0] != _FORMAT:
            raise WrappedKeyError("not a wrapped key of format 1")
        kem_id = int.from_bytes(data[1:start], "big")
        try:
            suite = Suite(kem_id)
        except ValueError:
            raise WrappedKeyError(f"a wrapped key of unknown KEM 0x{kem_id:04x}") from None
        fingerprint = Digest(bytes(data[start : start + DIGEST_SIZE]))
        return cls(suite, fingerprint, bytes(data[start + DIGEST_SIZE :]))


def wrap_content_key(
    content_key: bytes, recipient: EncryptionPublicKey, binding: KeyBinding
) -> WrappedKey:
    """Wrap *content_key* to *recipient* for the context *binding* (whose
    ``recipient_department`` is the department *recipient* belongs to)."""
    if len(content_key) != CONTENT_KEY_SIZE:
        raise InvalidInputError(
            f"a content key is {CONTENT_KEY_SIZE} bytes, got {len(content_key)}"
        )
    fingerprint = recipient.fingerprint()
    ciphertext = recipient.suite.hpke.encrypt(
        bytes(content_key), recipient.hpke_key(), info=binding.info(fingerprint)
    )
    return WrappedKey(recipient.suite, fingerprint, ciphertext)


def unwrap_content_key(wrapped: WrappedKey, key: EncryptionKeyPair, binding: KeyBinding) -> bytes:
    """The content key inside *wrapped*, if it was wrapped to *key* for *binding*.

    Raises :class:`~ledger.errors.WrappedKeySuiteError` if *wrapped* and *key* are of
    different suites, and :class:`~ledger.errors.WrappedKeyError` if it was wrapped to another
    key (a rotated-away one, say), for another context, or altered.
    """
    if wrapped.suite is not key.suite:
        raise WrappedKeySuiteError(
            f"the key was wrapped with {wrapped.suite.label}; this private key is {key.suite.label}"
        )
    fingerprint = key.public_key.fingerprint()
    if wrapped.recipient_fingerprint != fingerprint:
        raise WrappedKeyError(
            f"the key was wrapped to key {wrapped.recipient_fingerprint}; this key is {fingerprint}"
        )
    try:
        content_key = key.suite.hpke.decrypt(
            wrapped.ciphertext, key.hpke_key(), info=binding.info(fingerprint)
        )
    except InvalidTag:
        raise WrappedKeyError(
            "the wrapped key does not open: it was wrapped for another chain, registry, "
            "dataset, version or department, or altered"
        ) from None
    return content_key


def _check_range(name: str, value: int, bits: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise InvalidInputError(f"{name} must be an integer from 0 to 2**{bits} - 1, got {value!r}")
