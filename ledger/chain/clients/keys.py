"""The key directory client: departments' HPKE encryption public keys, by serial."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from ledger.chain.backend import Receipt
from ledger.chain.clients.base import SignedActionsClient, Signing
from ledger.chain.types import (
    Authorization,
    EncryptionKeyRecord,
    Event,
    Kem,
    PublishedKey,
)
from ledger.errors import InvalidInputError


def checked_key(kem: Kem | int, public_key: bytes) -> tuple[Kem, bytes]:
    """``kem`` and ``public_key`` as the contract will accept them, refused here first (a
    revert costs a transaction; the relayer would only learn of it when mining)."""
    try:
        kem = Kem(kem)
    except ValueError:
        raise InvalidInputError(f"HPKE KEM {int(kem):#06x} is not accepted") from None
    raw = bytes(public_key)
    if len(raw) != kem.public_key_length:
        raise InvalidInputError(
            f"a {kem.name} public key is {kem.public_key_length} bytes, got {len(raw)}"
        )
    return kem, raw


class KeyDirectoryClient(SignedActionsClient):
    """Departments' encryption keys: publish (rotate), read the key in force, decode events."""

    artifact_name = "KeyDirectory"
    _primary_types = ("PublishEncryptionKey",)

    def publish_encryption_key(
        self, kem: Kem | int, public_key: bytes, *, sender: LocalAccount
    ) -> Receipt:
        """Publish ``public_key`` as the sending department's key in force."""
        return self._act("publishEncryptionKey", checked_key(kem, public_key), sender)

    def sign_publish_encryption_key(
        self,
        kem: Kem | int,
        public_key: bytes,
        *,
        signer: LocalAccount,
        department_id: int,
        deadline: int,
        nonce: int | None = None,
    ) -> Authorization:
        kem, raw = checked_key(kem, public_key)
        signing = Signing(signer, department_id=department_id, deadline=deadline, nonce=nonce)
        return self._sign("PublishEncryptionKey", {"kemId": int(kem), "publicKey": raw}, signing)

    def publish_encryption_key_by_sig(
        self, kem: Kem | int, public_key: bytes, *, auth: Authorization, sender: LocalAccount
    ) -> Receipt:
        return self._act("publishEncryptionKey", checked_key(kem, public_key), sender, auth)

    def current_key(self, department_id: int) -> EncryptionKeyRecord:
        """The department's key in force (serial 0 if none), suspended or not."""
        stored = self._view(self.contract.functions.currentKey(department_id))
        return self._record(department_id, stored)

    def require_usable_key(self, department_id: int) -> EncryptionKeyRecord:
        """The key to wrap to now; raises ``KeyDirectoryDepartmentInactiveError`` for a
        suspended or unknown department, ``KeyDirectoryNoKeyError`` when it has no key."""
        stored = self._view(self.contract.functions.requireUsableKey(department_id))
        return self._record(department_id, stored)

    def key_hash_at(self, department_id: int, serial: int) -> bytes:
        """keccak256 of the key published under ``serial`` (32 zero bytes if none)."""
        return bytes(self._view(self.contract.functions.keyHashAt(department_id, serial)))

    def is_key_at(self, department_id: int, serial: int, public_key: bytes) -> bool:
        """True if ``public_key`` is the key ``department_id`` published as ``serial``: how a
        wrapped key is checked against the key in force when it was wrapped."""
        return self.key_hash_at(department_id, serial) == keccak(bytes(public_key))

    def published_key_at(self, department_id: int, serial: int) -> PublishedKey | None:
        """The key ``department_id`` published as ``serial``, from the chain's logs (by the
        indexed department and serial topics; the chain stores only its hash), checked against
        the hash the contract stores for that serial. None if no node log carries it."""
        topic0 = (
            "0x" + keccak(text="EncryptionKeyPublished(uint64,uint32,uint16,bytes32,bytes)").hex()
        )
        logs = self.chain.call(
            lambda: self.chain.w3.eth.get_logs(
                {
                    "address": self.address,
                    "fromBlock": 0,
                    "toBlock": "latest",
                    "topics": [
                        topic0,
                        "0x" + department_id.to_bytes(32, "big").hex(),
                        "0x" + serial.to_bytes(32, "big").hex(),
                    ],
                }
            )
        )
        stored = self.key_hash_at(department_id, serial)
        for key in self.published_keys(logs):
            if key.key_hash == stored:
                return key
        return None

    def published_keys(self, logs: Any) -> list[PublishedKey]:
        """The ``EncryptionKeyPublished`` events among ``logs``, each checked against its own
        hash (a log is what a node says; the hash is what the contract computed)."""
        return [
            self.published_key(event)
            for event in self.decode_events(logs)
            if event.name == "EncryptionKeyPublished"
        ]

    @staticmethod
    def published_key(event: Event) -> PublishedKey:
        args = event.args
        key = PublishedKey(
            department_id=int(args["departmentId"]),
            serial=int(args["serial"]),
            kem_id=int(args["kemId"]),
            key_hash=bytes(args["keyHash"]),
            public_key=bytes(args["publicKey"]),
        )
        if keccak(key.public_key) != key.key_hash:
            raise InvalidInputError(
                f"event {event.tx_hash}#{event.log_index}: the public key does not hash to keyHash"
            )
        return key

    @staticmethod
    def _record(department_id: int, stored: Any) -> EncryptionKeyRecord:
        key_hash, kem_id, serial, published_at = stored
        return EncryptionKeyRecord(
            department_id=department_id,
            key_hash=bytes(key_hash),
            kem_id=int(kem_id),
            serial=int(serial),
            published_at=int(published_at),
        )
