"""A transaction's input decoded by the clients' selector table says what web3's own decoder
says: the function, and each argument by name (structs as tuples)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ledger.chain.deploy import Ledger
from ledger.chain.types import Classification, NewVersion, VersionRef


def test_every_dataset_call_decodes_as_web3_decodes_it(ledger: Ledger) -> None:
    datasets = ledger.datasets.contract
    dataset_id = os.urandom(32)
    auth = (1, 7, 2**40, os.urandom(65))
    version = NewVersion(os.urandom(32), os.urandom(32), (VersionRef(dataset_id, 1),)).as_abi()
    calls: list[tuple[str, list[Any]]] = [
        (
            "createDatasetBySig",
            [os.urandom(32), int(Classification.PUBLIC), os.urandom(32), version, auth],
        ),
        ("addVersionBySig", [dataset_id, version, auth]),
        ("withdrawDataset", [dataset_id, os.urandom(32)]),
    ]
    for name, args in calls:
        data = datasets.encode_abi(name, args)
        function, expected = datasets.decode_function_input(data)
        decoded_name, decoded = ledger.datasets.decode_call(data)
        assert decoded_name == function.fn_name == name
        assert decoded.keys() == expected.keys()
        for key, value in decoded.items():
            assert _plain(value) == _plain(expected[key]), (name, key)


def test_an_unknown_selector_is_refused_by_name(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="no function of DatasetRegistry has selector 0xdeadbeef"):
        ledger.datasets.decode_call("0xdeadbeef" + "00" * 32)


def _plain(value: Any) -> Any:
    """A decoded value with structs as tuples, whichever decoder made it."""
    if isinstance(value, dict):
        return tuple(_plain(v) for v in value.values())
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value
