"""Departments' encryption keys: the HPKE suites, key pairs, and their byte encodings.

A department publishes an *encryption* public key (distinct from its secp256k1 signing key)
so that content keys can be wrapped to it. Two suites (RFC 9180 HPKE, base mode):

* ``MLKEM768_X25519`` (default): the ML-KEM-768 + X25519 hybrid KEM, HKDF-SHA256, AES-256-GCM.
  Post-quantum: a wrapped key recorded today stays secret if X25519 falls later
  ("harvest now, decrypt later"), and classical if ML-KEM does.
* ``X25519``: DHKEM(X25519), HKDF-SHA256, AES-256-GCM, for interoperating with HPKE stacks that
  have no hybrid KEM yet.

A suite is named by its KEM's HPKE identifier (RFC 9180's registry: ``0x0020`` DHKEM(X25519,
HKDF-SHA256); ``0x647a`` ML-KEM-768+X25519, draft-ietf-hpke-pq), as the chain's key directory
(``contracts/KeyDirectory.sol``) names it. Encodings (self-describing: two bytes, big-endian,
name the KEM):

* public key: ``kem id ‖ ML-KEM-768 public key (1184) ‖ X25519 public key (32)``, or
  ``kem id ‖ X25519 public key (32)``. Its *fingerprint* is the keccak-256 of the raw public key
  (without the KEM id): the hash the key directory stores and EIP-712 signs (``bytes`` fields
  are signed as their keccak-256), so a fingerprint is checked against the chain as it is;
  the raw lengths differ between suites, so the hash names the KEM too;
* private key: ``kem id ‖ ML-KEM-768 seed (64) ‖ X25519 private key (32)``, or
  ``kem id ‖ X25519 private key (32)``. Secret: encrypt it at rest
  (:mod:`ledger.sealing.keystore`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from eth_utils.crypto import keccak

from ledger.errors import EncryptionKeyFormatError
from ledger.hashing import Digest

__all__ = ["DEFAULT_SUITE", "EncryptionKeyPair", "EncryptionPublicKey", "Suite"]

#: Bytes of the KEM identifier that starts every encoding.
KEM_ID_SIZE = 2
_MLKEM768_PUBLIC = 1184
_MLKEM_SEED = 64
_X25519 = 32


class Suite(enum.Enum):
    """An HPKE suite a department key belongs to; the value is its KEM's HPKE identifier."""

    MLKEM768_X25519 = 0x647A
    X25519 = 0x0020

    @property
    def kem_id(self) -> int:
        """The KEM's identifier in RFC 9180's registry (and the key directory's ``kemId``)."""
        return self.value

    @property
    def tag(self) -> bytes:
        """:attr:`kem_id` as the two bytes that start the encodings."""
        return self.value.to_bytes(KEM_ID_SIZE, "big")

    @property
    def label(self) -> str:
        """The suite's name as KEM/KDF/AEAD, for people and key files."""
        kem = "MLKEM768-X25519" if self is Suite.MLKEM768_X25519 else "DHKEM-X25519"
        return f"{kem}/HKDF-SHA256/AES-256-GCM"

    @property
    def hpke(self) -> hpke.Suite:
        """The suite as ``cryptography`` runs it."""
        kem = hpke.KEM.MLKEM768_X25519 if self is Suite.MLKEM768_X25519 else hpke.KEM.X25519
        return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

    @property
    def public_size(self) -> int:
        """Length of a public key's raw bytes (its encoding without the KEM id)."""
        return _MLKEM768_PUBLIC + _X25519 if self is Suite.MLKEM768_X25519 else _X25519

    @property
    def private_size(self) -> int:
        """Length of a private key's raw bytes (its encoding without the KEM id)."""
        return _MLKEM_SEED + _X25519 if self is Suite.MLKEM768_X25519 else _X25519

    @property
    def encapsulation_size(self) -> int:
        """Length of the KEM's encapsulated key, which starts every wrapped key."""
        return 1088 + _X25519 if self is Suite.MLKEM768_X25519 else _X25519

    @classmethod
    def from_kem_id(cls, value: int) -> Suite:
        try:
            return cls(value)
        except ValueError:
            raise EncryptionKeyFormatError(f"unknown encryption key KEM 0x{value:04x}") from None

    @classmethod
    def from_tag(cls, data: bytes) -> Suite:
        """The suite the first :data:`KEM_ID_SIZE` bytes of an encoding name."""
        if len(data) < KEM_ID_SIZE:
            raise EncryptionKeyFormatError("an encoded key is shorter than its KEM id")
        return cls.from_kem_id(int.from_bytes(data[:KEM_ID_SIZE], "big"))


DEFAULT_SUITE = Suite.MLKEM768_X25519
"""The suite new department keys use: the post-quantum hybrid."""

_HpkePublic = hpke.MLKEM768X25519PublicKey | x25519.X25519PublicKey
_HpkePrivate = hpke.MLKEM768X25519PrivateKey | x25519.X25519PrivateKey


@dataclass(frozen=True, slots=True)
class EncryptionPublicKey:
    """A department's encryption public key: its suite and raw public bytes."""

    suite: Suite
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != self.suite.public_size:
            raise EncryptionKeyFormatError(
                f"a {self.suite.label} public key is {self.suite.public_size} bytes, got "
                f"{len(self.raw)}"
            )
        self.hpke_key()  # refuses bytes that are no point on the curve / no ML-KEM key

    @classmethod
    def decode(cls, data: bytes) -> EncryptionPublicKey:
        """Parse the self-describing encoding (``kem id ‖ raw``)."""
        return cls(Suite.from_tag(data), bytes(data[KEM_ID_SIZE:]))

    def encode(self) -> bytes:
        """``kem id ‖ raw``: the key with the name of its KEM, for files and transfer."""
        return self.suite.tag + self.raw

    def fingerprint(self) -> Digest:
        """keccak-256 of :attr:`raw`: the key hash the chain's key directory stores (and its
        event's ``keyHash``), and what every wrapped key to it is bound to."""
        return Digest(keccak(self.raw))

    def hpke_key(self) -> _HpkePublic:
        """The key as ``cryptography``'s HPKE takes it."""
        try:
            if self.suite is Suite.MLKEM768_X25519:
                return hpke.MLKEM768X25519PublicKey(
                    mlkem.MLKEM768PublicKey.from_public_bytes(self.raw[:_MLKEM768_PUBLIC]),
                    x25519.X25519PublicKey.from_public_bytes(self.raw[_MLKEM768_PUBLIC:]),
                )
            return x25519.X25519PublicKey.from_public_bytes(self.raw)
        except ValueError:
            raise EncryptionKeyFormatError(f"not a valid {self.suite.label} public key") from None

    def __str__(self) -> str:
        return f"{self.suite.label} key {self.fingerprint()}"


class EncryptionKeyPair:
    """A department's encryption key pair. The private half never appears in ``repr`` or
    error messages; :meth:`private_bytes` is the only way out, for encrypted storage."""

    __slots__ = ("_mlkem", "_public", "_suite", "_x25519")

    def __init__(
        self,
        suite: Suite,
        x25519_key: x25519.X25519PrivateKey,
        mlkem_key: mlkem.MLKEM768PrivateKey | None,
    ) -> None:
        if (mlkem_key is None) != (suite is Suite.X25519):
            raise EncryptionKeyFormatError(f"a {suite.label} key pair takes exactly its own keys")
        self._suite = suite
        self._x25519 = x25519_key
        self._mlkem = mlkem_key
        raw = x25519_key.public_key().public_bytes_raw()
        if mlkem_key is not None:
            raw = mlkem_key.public_key().public_bytes_raw() + raw
        self._public = EncryptionPublicKey(suite, raw)

    @classmethod
    def generate(cls, suite: Suite = DEFAULT_SUITE) -> EncryptionKeyPair:
        """A fresh random key pair of *suite*."""
        mlkem_key = mlkem.MLKEM768PrivateKey.generate() if suite is Suite.MLKEM768_X25519 else None
        return cls(suite, x25519.X25519PrivateKey.generate(), mlkem_key)

    @classmethod
    def from_private_bytes(cls, data: bytes) -> EncryptionKeyPair:
        """Rebuild a key pair from :meth:`private_bytes` (``kem id ‖ seeds``)."""
        suite = Suite.from_tag(data)
        raw = bytes(data[KEM_ID_SIZE:])
        if len(raw) != suite.private_size:
            raise EncryptionKeyFormatError(
                f"a {suite.label} private key is {suite.private_size} bytes, got {len(raw)}"
            )
        try:
            if suite is Suite.MLKEM768_X25519:
                mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:_MLKEM_SEED])
                return cls(
                    suite, x25519.X25519PrivateKey.from_private_bytes(raw[_MLKEM_SEED:]), mlkem_key
                )
            return cls(suite, x25519.X25519PrivateKey.from_private_bytes(raw), None)
        except ValueError:
            raise EncryptionKeyFormatError(f"not a valid {suite.label} private key") from None

    @property
    def suite(self) -> Suite:
        return self._suite

    @property
    def public_key(self) -> EncryptionPublicKey:
        return self._public

    def private_bytes(self) -> bytes:
        """``kem id ‖ ML-KEM seed ‖ X25519 key`` (or ``kem id ‖ X25519 key``): secret."""
        raw = self._x25519.private_bytes_raw()
        if self._mlkem is not None:
            raw = self._mlkem.private_bytes_raw() + raw
        return self._suite.tag + raw

    def hpke_key(self) -> _HpkePrivate:
        """The private key as ``cryptography``'s HPKE takes it."""
        if self._mlkem is not None:
            return hpke.MLKEM768X25519PrivateKey(self._mlkem, self._x25519)
        return self._x25519

    def __repr__(self) -> str:
        return f"EncryptionKeyPair({self._public})"
