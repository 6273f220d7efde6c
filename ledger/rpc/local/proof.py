"""EIP-1186 proofs (``eth_getProof``) from py-evm's state tries.

py-evm keeps the state as Ethereum's Merkle-Patricia tries (the ``trie`` package's
``HexaryTrie``): the account trie under the block's ``stateRoot`` keyed by ``keccak(address)``,
and one storage trie per account under its ``storageRoot`` keyed by ``keccak(slot)``, every node
stored under the keccak of its RLP. A proof is the RLP of each node on the path from the root
to the key, in order; nodes shorter than 32 bytes are embedded in their parent and so are not
listed on their own, exactly as geth lists them. The path ends at the key's leaf (inclusion) or
where the key's path leaves the trie (exclusion), so a verifier can check either against the
root with nothing but keccak and RLP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import rlp  # type: ignore[import-untyped]
from eth.rlp.accounts import Account
from eth_utils.crypto import keccak

from ledger.errors import RpcExecutionError
from ledger.rpc.params import StorageKey

#: Root of an empty trie: keccak(rlp(b"")).
EMPTY_TRIE_ROOT: Final = keccak(rlp.encode(b""))
#: Code hash of an account without code: keccak(b"").
EMPTY_CODE_HASH: Final = keccak(b"")

Reader = Callable[[bytes], bytes]


def _nibbles(key: bytes) -> list[int]:
    return [n for byte in key for n in (byte >> 4, byte & 0x0F)]


def _decode_path(encoded: bytes) -> tuple[list[int], bool]:
    """A leaf or extension node's hex-prefix path: (nibbles, is_leaf)."""
    nibbles = _nibbles(encoded)
    flag = nibbles[0]
    return nibbles[2 - (flag & 1) :], flag >= 2


def prove(read: Reader, root: bytes, key: bytes) -> tuple[list[bytes], bytes | None]:
    """The proof of ``key`` (already hashed) in the trie under ``root``: the RLP of every node
    stored on the path, and the value found (None if the key is absent)."""
    proof: list[bytes] = []
    if root == EMPTY_TRIE_ROOT:
        return proof, None
    path = _nibbles(key)
    ref: Any = root
    while True:
        if isinstance(ref, bytes):
            if not ref:
                return proof, None  # an empty branch slot: the key's path ends here
            try:
                encoded = read(ref)
            except KeyError:
                raise RpcExecutionError(f"missing trie node 0x{ref.hex()}") from None
            proof.append(encoded)
            node = rlp.decode(encoded)
        else:
            node = ref  # embedded in its parent, already part of the parent's RLP
        if len(node) == 17:  # branch
            if not path:
                return proof, node[16] or None
            ref, path = node[path[0]], path[1:]
        elif len(node) == 2:  # leaf or extension
            segment, is_leaf = _decode_path(node[0])
            if is_leaf:
                return proof, node[1] if path == segment else None
            if path[: len(segment)] != segment:
                return proof, None
            ref, path = node[1], path[len(segment) :]
        else:
            raise RpcExecutionError("malformed trie node")


@dataclass(frozen=True, slots=True)
class AccountProof:
    """An account as the trie holds it, with its proof and the storage proofs asked for."""

    address: bytes
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes
    account_proof: list[bytes]
    storage: list[tuple[StorageKey, int, list[bytes]]]

    def to_json(self) -> dict[str, Any]:
        """The spec's ``AccountProof``."""
        return {
            "address": "0x" + self.address.hex(),
            "accountProof": ["0x" + node.hex() for node in self.account_proof],
            "balance": hex(self.balance),
            "codeHash": "0x" + self.code_hash.hex(),
            "nonce": hex(self.nonce),
            "storageHash": "0x" + self.storage_root.hex(),
            "storageProof": [
                {
                    "key": key.echo,
                    "value": hex(value),
                    "proof": ["0x" + node.hex() for node in nodes],
                }
                for key, value, nodes in self.storage
            ],
        }


def account_proof(
    read: Reader, state_root: bytes, address: bytes, keys: tuple[StorageKey, ...]
) -> AccountProof:
    """Prove ``address`` and its storage ``keys`` against ``state_root``. An absent account
    proves as geth proves it: zero nonce and balance, empty code and storage, and an exclusion
    proof."""
    nodes, encoded = prove(read, state_root, keccak(address))
    if encoded is None:
        nonce, balance, storage_root, code_hash = 0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH
    else:
        account = rlp.decode(encoded, sedes=Account)
        nonce, balance = account.nonce, account.balance
        storage_root, code_hash = account.storage_root, account.code_hash
    storage = []
    for key in keys:
        slot_nodes, raw = prove(read, storage_root, keccak(key.slot.to_bytes(32, "big")))
        value = 0 if raw is None else int.from_bytes(rlp.decode(raw), "big")
        storage.append((key, value, slot_nodes))
    return AccountProof(
        address=address,
        nonce=nonce,
        balance=balance,
        storage_root=storage_root,
        code_hash=code_hash,
        account_proof=nodes,
        storage=storage,
    )


__all__ = ["EMPTY_CODE_HASH", "EMPTY_TRIE_ROOT", "AccountProof", "account_proof", "prove"]
