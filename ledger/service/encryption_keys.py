"""Departments' encryption keys: publishing one (the service's own key pair, or the
department's public key) and reading the key in force and the keys published before it.

A department publishes for itself only, through the key directory (``KeyDirectory.sol``) like
every department action: signed by its custodial key or by the department. The service holds
the private half only of the key pairs it generated (``runtime.encryption_keystore``); a key
published by the department itself stays with the department.

Public keys are on chain, so every principal reads them, the anonymous reader included
(:mod:`ledger.service.visibility`). The full key is in the publication event only, which the
index keeps; the chain's state keeps its hash by serial, and the key in force is re-hashed
against that state before it is answered, so a lagging or wrong index cannot put another key
in a sealer's hands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from sqlmodel import Session, col, select

from ledger.chain.clients.keys import KeyDirectoryClient, checked_key
from ledger.chain.types import DepartmentStatus, EncryptionKeyRecord, Kem, PublishedKey
from ledger.errors import (
    ChainError,
    DepartmentInactiveError,
    EncryptionKemUnsupportedError,
    EncryptionKeyFormatError,
    EncryptionKeyNotPublishedError,
    ForbiddenError,
    InvalidInputError,
    ResourceNotFoundError,
)
from ledger.index.models import IndexEncryptionKey
from ledger.relayer import next_department_status, next_signer
from ledger.relayer.actions import ClientSignature, DepartmentAction
from ledger.runtime import Runtime
from ledger.sealing import DEFAULT_SUITE, EncryptionPublicKey, Suite
from ledger.sealing.keypairs import KEM_ID_SIZE
from ledger.service.pagination import keyset_page, page
from ledger.service.principal import Principal
from ledger.service.queued import Queued, department_action
from ledger.service.views import coordinates

#: How the API and the CLI name the KEMs the directory accepts.
KEM_NAMES: dict[Kem, str] = {Kem.X25519: "x25519", Kem.MLKEM768_X25519: "mlkem768-x25519"}

_PUBLISHED_TOPIC = keccak(text="EncryptionKeyPublished(uint64,uint32,uint16,bytes32,bytes)")


def accepted_kem(kem: Kem | int) -> Kem:
    """``kem`` if the key directory accepts it, else :class:`EncryptionKemUnsupportedError`."""
    try:
        return Kem(kem)
    except ValueError:
        accepted = ", ".join(f"{int(k):#06x} {name}" for k, name in KEM_NAMES.items())
        raise EncryptionKemUnsupportedError(
            f"HPKE KEM {int(kem):#06x} is not accepted (the key directory takes {accepted})"
        ) from None


def kem_named(name: str) -> Kem:
    """The KEM called ``name`` (:data:`KEM_NAMES`)."""
    for kem, kem_name in KEM_NAMES.items():
        if kem_name == name:
            return kem
    raise EncryptionKemUnsupportedError(
        f"unknown KEM {name[:40]!r}: {' or '.join(KEM_NAMES.values())}"
    )


# --- publishing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishEncryptionKey:
    """Publish the acting department's encryption key.

    Without ``public_key`` the service generates a key pair of ``kem`` (default: the hybrid),
    keeps it encrypted in its keystore and publishes its public half, signed with the
    department's custodial key. With ``public_key`` (raw, without the KEM id) the department
    publishes a key whose private half it holds: signed by itself (``signature``), or by its
    custodial signing key if the service holds one.
    """

    kem: Kem | int | None = None
    public_key: bytes | None = None
    signature: ClientSignature | None = None
    #: The department the caller means to publish for (a path names it): refused unless it is
    #: the caller's own. None: the caller's.
    department_id: int | None = None


def acting_for(principal: Principal, department_id: int | None) -> int:
    """The acting department, refused unless it is ``department_id`` (if given): a department
    publishes its own encryption key only."""
    acting = principal.acting_department()
    if department_id not in (None, acting):
        raise ForbiddenError(
            f"department {acting} publishes its own encryption key only, not department "
            f"{department_id}'s"
        )
    return acting


def split_encoding(encoded: bytes, kem: Kem | int | None = None) -> tuple[int, bytes]:
    """The KEM id and the raw key of a public key's encoding (two bytes of KEM id, then the
    raw key), refused if ``kem`` is given and is not the key's."""
    if len(encoded) < KEM_ID_SIZE:
        raise EncryptionKeyFormatError("an encoded public key starts with its 2-byte KEM id")
    kem_id = int.from_bytes(encoded[:KEM_ID_SIZE], "big")
    if kem is not None and int(kem) != kem_id:
        raise InvalidInputError(
            f"kem {int(kem):#06x} was asked for, but the public key is of KEM {kem_id:#06x}"
        )
    return kem_id, bytes(encoded[KEM_ID_SIZE:])


def publish_encryption_key(
    session: Session, runtime: Runtime, principal: Principal, command: PublishEncryptionKey
) -> Queued:
    department_id = acting_for(principal, command.department_id)
    keys = runtime.ledger.keys  # DeploymentTooOldError before anything is generated or queued
    kem = Kem(DEFAULT_SUITE.kem_id) if command.kem is None else command.kem
    if command.public_key is None:
        if command.signature is not None:
            raise InvalidInputError(
                "a signature comes with the public key it signs: without public_key the service "
                "generates the key pair and signs with the department's custodial key"
            )
        kem = accepted_kem(kem)
        _require_custodial(session, runtime, department_id)
        public = runtime.encryption_keystore.rotate(  # archives the current key pair, if any
            department_id, runtime.passphrase, suite=Suite(int(kem))
        )
        custodial = True
    else:
        # A key of the KEM's length (all the contract checks), and a valid one: a point on the
        # curve, an ML-KEM key that parses (EncryptionKeyFormatError otherwise).
        public = EncryptionPublicKey(Suite(int(accepted_kem(kem))), bytes(command.public_key))
        kem, _ = checked_key(kem, public.raw)
        custodial = False
    resource = {
        "department_id": department_id,
        **key_view(int(kem), public.raw),
        "custodial": custodial,
    }
    action = DepartmentAction(
        client=keys,
        action_type="PublishEncryptionKey",
        fields={"kemId": int(kem), "publicKey": public.raw},
        function="publishEncryptionKeyBySig",
        call_args=lambda auth: [int(kem), public.raw, auth.as_abi()],
        kind="keys.publish",
    )
    return department_action(
        session, runtime, department_id, action, resource=resource, signature=command.signature
    )


def _require_custodial(session: Session, runtime: Runtime, department_id: int) -> None:
    """Refuse, before a key pair is generated for nothing, what ``submit_department_action``
    would refuse after: a department suspended at the action's turn, or one whose signing key
    the service does not hold."""
    departments = runtime.ledger.departments
    if next_department_status(session, departments, department_id) == DepartmentStatus.SUSPENDED:
        raise DepartmentInactiveError({"departmentId": department_id})
    if (
        runtime.department_key(department_id, next_signer(session, departments, department_id))
        is None
    ):
        raise ForbiddenError(
            f"department {department_id} holds its own signing key: generate its encryption key "
            "pair itself and publish the public key with its EIP-712 signature"
        )


# --- reading -------------------------------------------------------------------------------


def key_view(kem_id: int, raw: bytes) -> dict[str, Any]:
    """A public key as the API shows it: its KEM, its fingerprint (keccak-256 of the raw key:
    the directory's ``keyHash``) and ``public_key``, the self-describing encoding
    (two bytes of KEM id, big-endian, then the raw key), in 0x hex."""
    kem = Kem(kem_id)
    return {
        "kem": KEM_NAMES[kem],
        "kem_id": int(kem),
        "fingerprint": "0x" + keccak(raw).hex(),
        "public_key": "0x" + (int(kem).to_bytes(2, "big") + raw).hex(),
    }


def current_encryption_key(
    session: Session, runtime: Runtime, principal: Principal, department_id: int
) -> dict[str, Any]:
    """The key in force: serial and hash from the contract now, the key itself from the index
    (from the chain's logs if the index has not read it yet), checked against that hash."""
    keys = runtime.ledger.keys
    record = keys.current_key(department_id)
    if not record.exists:
        if runtime.ledger.departments.department(department_id).status == DepartmentStatus.NONE:
            raise ResourceNotFoundError(f"no department {department_id} is enrolled")
        raise EncryptionKeyNotPublishedError(
            f"department {department_id} has published no encryption key"
        )
    row = session.get(IndexEncryptionKey, (department_id, record.serial))
    indexed = row is not None and keccak(_raw(row)) == record.key_hash
    if row is not None and indexed:
        raw, published = _raw(row), coordinates(row)
    else:  # not indexed yet, or the index disagrees with the chain's state: ask the chain
        event, published = _published_on_chain(runtime, keys, record)
        raw = event.public_key
    if keccak(raw) != record.key_hash:  # the node's logs disagree with its state
        raise ChainError(
            f"department {department_id}'s key {record.serial}: the published key does not hash "
            f"to the directory's keyHash 0x{record.key_hash.hex()}"
        )
    return {
        "department_id": department_id,
        "serial": record.serial,
        **key_view(record.kem_id, raw),
        "published": published,
        "chain": {"chain_id": runtime.chain.chain_id, "contract": keys.address},
        "indexed": indexed,
    }


def _raw(row: IndexEncryptionKey) -> bytes:
    return bytes.fromhex(row.public_key[2:])


def _published_on_chain(
    runtime: Runtime, keys: KeyDirectoryClient, record: EncryptionKeyRecord
) -> tuple[PublishedKey, dict[str, Any]]:
    """The ``EncryptionKeyPublished`` event of ``record``, from the chain's logs."""
    topics: list[Any] = [
        "0x" + _PUBLISHED_TOPIC.hex(),
        "0x" + record.department_id.to_bytes(32, "big").hex(),
        "0x" + record.serial.to_bytes(32, "big").hex(),
    ]
    logs = runtime.chain.call(
        lambda: runtime.chain.w3.eth.get_logs(
            {
                "address": keys.address,
                "topics": topics,
                "fromBlock": runtime.ledger.deployment.start_block,
                "toBlock": "latest",
            }
        )
    )
    events = [e for e in keys.decode_events(logs) if e.name == "EncryptionKeyPublished"]
    if not events:
        raise ResourceNotFoundError(
            f"department {record.department_id}'s key {record.serial} is in the directory's "
            "state but no node log holds it yet; ask again"
        )
    event = events[-1]
    block = runtime.chain.call(lambda: runtime.chain.w3.eth.get_block(event.block_number))
    where = {
        "tx_hash": event.tx_hash,
        "block_number": event.block_number,
        "block_hash": event.block_hash,
        "log_index": event.log_index,
        "block_time": int(block["timestamp"]),
    }
    return keys.published_key(event), where


@dataclass(frozen=True, slots=True)
class EncryptionKeyListing:
    department_id: int
    cursor: str | None = None
    limit: int = 100


def encryption_key_history(
    session: Session, runtime: Runtime, principal: Principal, query: EncryptionKeyListing
) -> dict[str, Any]:
    """Every key the department published, newest first, from the index."""
    rows, next_cursor = keyset_page(
        session,
        select(IndexEncryptionKey).where(IndexEncryptionKey.department_id == query.department_id),
        key=[col(IndexEncryptionKey.serial)],
        key_of=lambda r: (r.serial,),
        cursor=query.cursor,
        limit=query.limit,
        descending=True,
    )
    items = [
        {
            "department_id": row.department_id,
            "serial": row.serial,
            **key_view(row.kem_id, _raw(row)),
            "published": coordinates(row),
        }
        for row in rows
    ]
    return page(items, next_cursor, runtime.indexer.last_indexed_block())
