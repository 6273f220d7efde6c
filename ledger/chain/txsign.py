"""Signing contract calls fast: RLP by hand, secp256k1 in C (coincurve).

``LocalAccount.sign_transaction`` spends ~3 ms per transaction in Python (validation, typed
transaction models, RLP via dataclasses) around a signature that takes ~50 µs in libsecp256k1,
and the relayer signs every transaction it sends. This module builds the two transaction kinds
the relayer sends, EIP-1559 (type 2, empty access list) and EIP-155 legacy, and produces the
same bytes as eth-account (RFC 6979 nonces, low-s), which ``tests/ledger/chain/test_txsign.py``
checks byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PrivateKey
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_canonical_address
from eth_utils.crypto import keccak

_Item = bytes | list["_Item"]


@dataclass(frozen=True, slots=True)
class SignedTx:
    raw: bytes
    hash: bytes


class CallSigner:
    """Signs calls from one account: ``sign(...)`` → raw transaction and its hash."""

    def __init__(self, account: LocalAccount) -> None:
        self.address = account.address
        self._key = PrivateKey(bytes(account.key))

    def sign(
        self,
        *,
        chain_id: int,
        nonce: int,
        to: str,
        data: bytes,
        gas: int,
        fees: dict[str, int],
        value: int = 0,
    ) -> SignedTx:
        """A transaction calling ``to`` with ``data``; ``fees`` holds ``maxFeePerGas`` and
        ``maxPriorityFeePerGas`` (EIP-1559) or ``gasPrice`` (legacy, EIP-155)."""
        target = to_canonical_address(to)
        if "maxFeePerGas" in fees:
            fields: list[_Item] = [
                _int(chain_id),
                _int(nonce),
                _int(fees["maxPriorityFeePerGas"]),
                _int(fees["maxFeePerGas"]),
                _int(gas),
                target,
                _int(value),
                data,
                [],  # access list
            ]
            recid, r, s = self._signature(b"\x02" + _rlp(fields))
            raw = b"\x02" + _rlp([*fields, _int(recid), _int(r), _int(s)])
        else:
            fields = [_int(nonce), _int(fees["gasPrice"]), _int(gas), target, _int(value), data]
            recid, r, s = self._signature(_rlp([*fields, _int(chain_id), b"", b""]))
            raw = _rlp([*fields, _int(recid + 35 + 2 * chain_id), _int(r), _int(s)])
        return SignedTx(raw=raw, hash=keccak(raw))

    def _signature(self, unsigned: bytes) -> tuple[int, int, int]:
        signature = self._key.sign_recoverable(keccak(unsigned), hasher=None)
        return (
            signature[64],
            int.from_bytes(signature[:32], "big"),
            int.from_bytes(signature[32:64], "big"),
        )


def _int(value: int) -> bytes:
    """An RLP scalar: big-endian, no leading zeros (zero is the empty string)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _rlp(item: _Item) -> bytes:
    if isinstance(item, list):
        payload = b"".join(_rlp(i) for i in item)
        return _length(len(payload), 0xC0) + payload
    if len(item) == 1 and item[0] < 0x80:
        return item
    return _length(len(item), 0x80) + item


def _length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = _int(length)
    return bytes([offset + 55 + len(encoded)]) + encoded
