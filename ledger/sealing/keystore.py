"""Departments' encryption key pairs, encrypted at rest under a passphrase.

The counterpart of :mod:`ledger.keys` (signing keys) for encryption keys, with the same
directory semantics: ``<directory>/department-<id>.hpke.json`` holds the current key pair; a
rotated-away one is archived, never deleted, as ``<directory>/archive/department-<id>.hpke.
retired-<n>.json`` (``n`` from 1), because content keys wrapped to it must still open.

A key file is JSON::

    {"format": "provledger-encryption-key", "version": 1, "suite": "<label>",
     "public_key": "<hex of the public key encoding>",
     "kdf": "scrypt", "kdfparams": {"n": 262144, "r": 8, "p": 1, "salt": "<16 bytes hex>"},
     "cipher": "aes-256-gcm", "nonce": "<12 bytes hex>", "ciphertext": "<hex>"}

``ciphertext`` is AES-256-GCM, under scrypt(passphrase as UTF-8), of the private key encoding
(:meth:`~ledger.sealing.keypairs.EncryptionKeyPair.private_bytes`), with the public key encoding
as associated data: a file whose public key was swapped does not open. scrypt's cost ``n``
defaults to 2**18 as for the signing keys (about a second); lower it only in tests.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ledger.errors import (
    EncryptionKeyFormatError,
    InvalidInputError,
    KeystoreDecryptionError,
    KeystoreExistsError,
    KeystoreNotFoundError,
)
from ledger.files import link_numbered, numbered_files, write_atomically
from ledger.hashing import Digest
from ledger.sealing.keypairs import (
    DEFAULT_SUITE,
    EncryptionKeyPair,
    EncryptionPublicKey,
    Suite,
)

__all__ = ["EncryptionKeystore", "lock_key_pair", "unlock_key_pair"]

_FORMAT = "provledger-encryption-key"
_DEFAULT_N = 2**18
_MAX_N = 2**20  # a hostile file must not make unlocking take gigabytes
_R, _P = 8, 1
_ARCHIVE = "archive"


def lock_key_pair(key: EncryptionKeyPair, passphrase: str, *, scrypt_n: int = _DEFAULT_N) -> bytes:
    """The key file (JSON bytes) holding *key* encrypted under *passphrase*."""
    _check_passphrase(passphrase)
    _check_n(scrypt_n)
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    public = key.public_key.encode()
    ciphertext = AESGCM(_kek(passphrase, salt, scrypt_n)).encrypt(
        nonce, key.private_bytes(), public
    )
    document = {
        "format": _FORMAT,
        "version": 1,
        "suite": key.suite.label,
        "public_key": public.hex(),
        "kdf": "scrypt",
        "kdfparams": {"n": scrypt_n, "r": _R, "p": _P, "salt": salt.hex()},
        "cipher": "aes-256-gcm",
        "nonce": nonce.hex(),
        "ciphertext": ciphertext.hex(),
    }
    return json.dumps(document, indent=1).encode()


def unlock_key_pair(data: bytes, passphrase: str) -> EncryptionKeyPair:
    """Decrypt a key file made by :func:`lock_key_pair`.

    Raises :class:`~ledger.errors.KeystoreDecryptionError` if the passphrase is wrong or the
    file corrupt (its public key then not the private key's).
    """
    _check_passphrase(passphrase)
    public, salt, n, nonce, ciphertext = _fields(data)
    try:
        private = AESGCM(_kek(passphrase, salt, n)).decrypt(nonce, ciphertext, public.encode())
    except InvalidTag:
        raise KeystoreDecryptionError(
            "cannot unlock the encryption key: wrong passphrase or corrupt key file"
        ) from None
    key = EncryptionKeyPair.from_private_bytes(private)
    if key.public_key != public:
        raise KeystoreDecryptionError("the key file is corrupt: its public key is not its own")
    return key


class EncryptionKeystore:
    """A directory of departments' encryption key files (see the module docstring).

    ``scrypt_n`` sets the cost for *new* key files (existing ones carry their own).
    """

    __slots__ = ("_directory", "_scrypt_n")

    def __init__(self, directory: str | os.PathLike[str], *, scrypt_n: int = _DEFAULT_N) -> None:
        _check_n(scrypt_n)
        self._directory = Path(directory)
        self._scrypt_n = scrypt_n

    def __repr__(self) -> str:
        return f"EncryptionKeystore({str(self._directory)!r})"

    def path(self, department_id: int) -> Path:
        """Where *department_id*'s current key file is (or would be)."""
        if not isinstance(department_id, int) or isinstance(department_id, bool):
            raise InvalidInputError(f"department id must be an int, got {department_id!r}")
        if department_id < 0:
            raise InvalidInputError(f"department id must not be negative, got {department_id}")
        return self._directory / f"department-{department_id}.hpke.json"

    def create(
        self, department_id: int, passphrase: str, *, suite: Suite = DEFAULT_SUITE
    ) -> EncryptionPublicKey:
        """Generate *department_id*'s key pair, store it encrypted, return its public key.

        Raises :class:`~ledger.errors.KeystoreExistsError` if the department has one already.
        """
        if self.path(department_id).exists():  # fail before the slow KDF; the link re-checks
            raise KeystoreExistsError(f"department {department_id} has an encryption key")
        return self._store(department_id, EncryptionKeyPair.generate(suite), passphrase)

    def rotate(
        self, department_id: int, passphrase: str, *, suite: Suite = DEFAULT_SUITE
    ) -> EncryptionPublicKey:
        """Archive *department_id*'s current key pair (if any), store a fresh one in its place
        and return the new public key. Archiving comes first: a crash in between leaves the
        old key current, never none."""
        _check_passphrase(passphrase)
        if self.path(department_id).exists():
            self._archive(department_id)
        key = EncryptionKeyPair.generate(suite)
        return self._store(department_id, key, passphrase, replace=True)

    def public_key(self, department_id: int) -> EncryptionPublicKey:
        """The current public key, read without the passphrase (unauthenticated until
        :meth:`unlock` checks it against the private key)."""
        public, *_ = _fields(self._read(self.path(department_id), department_id))
        return public

    def unlock(
        self, department_id: int, passphrase: str, *, fingerprint: Digest | None = None
    ) -> EncryptionKeyPair:
        """Decrypt *department_id*'s current key pair or, with *fingerprint*, the current or
        archived one whose public key has that fingerprint (to unwrap keys wrapped before a
        rotation)."""
        paths = [self.path(department_id)]
        if fingerprint is not None:
            paths = [p for p in paths if p.exists()] + self.retired_paths(department_id)
        for path in paths:
            data = self._read(path, department_id)
            if fingerprint is None or _fields(data)[0].fingerprint() == fingerprint:
                return unlock_key_pair(data, passphrase)
        raise KeystoreNotFoundError(
            f"department {department_id} has no encryption key {fingerprint}"
        )

    def retired_paths(self, department_id: int) -> list[Path]:
        """The archived key files of *department_id*, oldest first."""
        self.path(department_id)  # validates the id
        pattern = re.compile(rf"department-{department_id}\.hpke\.retired-([1-9][0-9]*)\.json")
        return numbered_files(self._directory / _ARCHIVE, pattern)

    def _store(
        self, department_id: int, key: EncryptionKeyPair, passphrase: str, *, replace: bool = False
    ) -> EncryptionPublicKey:
        data = lock_key_pair(key, passphrase, scrypt_n=self._scrypt_n)
        _make_private_directory(self._directory)
        try:
            write_atomically(self.path(department_id), data, replace=replace)
        except FileExistsError:
            raise KeystoreExistsError(f"department {department_id} has an encryption key") from None
        return key.public_key

    def _archive(self, department_id: int) -> Path:
        """Hard-link the current key file into the archive under the next free number."""
        archive = self._directory / _ARCHIVE
        _make_private_directory(archive)
        return link_numbered(
            self.path(department_id),
            lambda n: archive / f"department-{department_id}.hpke.retired-{n}.json",
            len(self.retired_paths(department_id)) + 1,
        )

    def _read(self, path: Path, department_id: int) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise KeystoreNotFoundError(
                f"no encryption key for department {department_id} in {self._directory}"
            ) from None


def _fields(data: bytes) -> tuple[EncryptionPublicKey, bytes, int, bytes, bytes]:
    """Public key, salt, scrypt n, nonce and ciphertext of a key file."""
    try:
        document: dict[str, Any] = json.loads(data)
        if document["format"] != _FORMAT or document["version"] != 1:
            raise ValueError("not a key file of format 1")
        params = document["kdfparams"]
        if document["kdf"] != "scrypt" or document["cipher"] != "aes-256-gcm":
            raise ValueError("unknown kdf or cipher")
        if (params["r"], params["p"]) != (_R, _P):
            raise ValueError("unsupported scrypt parameters")
        n = params["n"]
        _check_n(n)
        public = EncryptionPublicKey.decode(bytes.fromhex(document["public_key"]))
        return (
            public,
            bytes.fromhex(params["salt"]),
            n,
            bytes.fromhex(document["nonce"]),
            bytes.fromhex(document["ciphertext"]),
        )
    except (ValueError, KeyError, TypeError, EncryptionKeyFormatError, InvalidInputError):
        raise KeystoreDecryptionError("the encryption key file is corrupt") from None


def _kek(passphrase: str, salt: bytes, n: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=_R, p=_P).derive(passphrase.encode())


def _check_n(n: object) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 2 or n > _MAX_N or n & (n - 1):
        raise InvalidInputError(f"scrypt n must be a power of two from 2 to {_MAX_N}, got {n!r}")


def _check_passphrase(passphrase: object) -> None:
    if not isinstance(passphrase, str) or not passphrase:
        raise InvalidInputError("passphrase must be a non-empty str")


def _make_private_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        return  # never chmod a directory we did not create: it may be shared, like /tmp
    directory.chmod(0o700)  # mkdir's mode is filtered through the umask
