"""Specification of the log decoder: the same arguments as eth_abi, whatever the topic words.

The decoder reads indexed integers, addresses and fixed bytes straight from their topic word
rather than through eth_abi; for any word at all it must give eth_abi's value, or refuse it as
eth_abi does.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger.index.projections import LogDecoder, jsonable

INPUTS: list[dict[str, Any]] = [
    {"name": "id", "type": "bytes32", "indexed": True},
    {"name": "department", "type": "uint64", "indexed": True},
    {"name": "signer", "type": "address", "indexed": True},
    {"name": "note", "type": "string", "indexed": False},
    {"name": "size", "type": "uint64", "indexed": False},
]
ABI = [{"type": "event", "name": "Sample", "anonymous": False, "inputs": INPUTS}]
SIGNATURE = keccak(text="Sample(bytes32,uint64,address,string,uint64)")
DATA = abi_encode(["string", "uint64"], ["hello", 7])

word = st.one_of(
    st.binary(min_size=32, max_size=32),
    # well-formed values, which random words almost never are for uint64 and address
    st.integers(0, 2**64 - 1).map(lambda n: n.to_bytes(32, "big")),
    st.binary(min_size=20, max_size=20).map(lambda b: bytes(12) + b),
)


def reference(topics: list[bytes]) -> dict[str, Any]:
    """What decoding every indexed value with eth_abi gives."""
    plain = abi_decode(["string", "uint64"], DATA)
    values: dict[str, Any] = dict(zip(["note", "size"], plain, strict=True))
    for param, topic in zip(INPUTS[:3], topics, strict=True):
        values[param["name"]] = abi_decode([param["type"]], topic)[0]
    return {i["name"]: jsonable(values[i["name"]], i) for i in INPUTS}


@given(id_=word, department=word, signer=word)
def test_indexed_values_are_eth_abis_or_refused_like_it(
    id_: bytes, department: bytes, signer: bytes
) -> None:
    topics = [id_, department, signer]
    try:
        expected: Any = reference(topics)
    except Exception as exc:  # eth_abi refuses the word: the decoder must refuse it too
        with pytest.raises(type(exc)):
            LogDecoder(ABI).decode([SIGNATURE, *topics], DATA)
        return
    assert LogDecoder(ABI).decode([SIGNATURE, *topics], DATA) == ("Sample", expected)


def test_a_department_id_beyond_uint64_is_refused() -> None:
    too_big = (2**64).to_bytes(32, "big")
    with pytest.raises(DecodingError):
        LogDecoder(ABI).decode([SIGNATURE, bytes(32), too_big, bytes(32)], DATA)


def test_an_unknown_event_decodes_to_none() -> None:
    assert LogDecoder(ABI).decode([keccak(text="Other()")], b"") is None
    assert LogDecoder(ABI).decode([], b"") is None
