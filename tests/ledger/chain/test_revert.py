"""Contract reverts become named LedgerErrors, whichever contract raised them."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from ledger.artifacts import load_artifact
from ledger.chain.revert import decode_revert, error_table, revert_data_from_message
from ledger.compiler import CONTRACTS
from ledger.errors import (
    ContractRevertError,
    DatasetNotOwnerError,
    EnforcedPauseError,
    InvalidSignatureError,
    NotFoundError,
    TransactionFailedError,
    UnauthorizedError,
    contract_error_classes,
)


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_every_custom_error_in_every_abi_has_its_own_python_class() -> None:
    names = {e["name"] for c in CONTRACTS for e in load_artifact(c).abi if e["type"] == "error"}
    classes = contract_error_classes()
    assert names - set(classes) == set()
    assert all(cls is not ContractRevertError for _, cls in error_table().values())


def test_a_custom_error_decodes_with_named_arguments() -> None:
    dataset_id = bytes(range(32))
    data = _selector("DatasetNotOwner(bytes32,uint64)") + encode(
        ["bytes32", "uint64"], [dataset_id, 7]
    )
    error = decode_revert(data)
    assert isinstance(error, DatasetNotOwnerError)
    assert isinstance(error, UnauthorizedError)
    assert isinstance(error, PermissionError)
    assert error.args_by_name == {"datasetId": "0x" + dataset_id.hex(), "departmentId": 7}
    assert str(error) == f"department 7 does not own dataset 0x{dataset_id.hex()}"
    assert error.code == "unauthorized"


def test_addresses_are_checksummed_and_categories_are_preserved() -> None:
    data = _selector("SignatureWrongSigner(uint64,address)") + encode(
        ["uint64", "address"], [3, "0x" + "ab" * 20]
    )
    error = decode_revert(data)
    assert isinstance(error, InvalidSignatureError)
    assert error.args_by_name["recovered"] == "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"


def test_errors_bubbled_up_from_the_department_registry_decode_too() -> None:
    assert isinstance(decode_revert(_selector("EnforcedPause()")), EnforcedPauseError)
    assert isinstance(
        decode_revert(_selector("DepartmentUnknown(uint64)") + encode(["uint64"], [9])),
        NotFoundError,
    )


def test_require_strings_panics_and_unknown_data_become_transaction_failed() -> None:
    reason = decode_revert(_selector("Error(string)") + encode(["string"], ["nope"]))
    assert isinstance(reason, TransactionFailedError) and "nope" in str(reason)
    panic = decode_revert(_selector("Panic(uint256)") + encode(["uint256"], [0x11]))
    assert isinstance(panic, TransactionFailedError) and "0x11" in str(panic)
    unknown = decode_revert(b"\xde\xad\xbe\xef", tx_hash="0x01")
    assert isinstance(unknown, TransactionFailedError)
    assert unknown.data == b"\xde\xad\xbe\xef" and unknown.tx_hash == "0x01"
    assert "0xdeadbeef" in str(unknown)
    assert "no data" in str(decode_revert(b""))


def test_truncated_arguments_do_not_crash_the_decoder() -> None:
    error = decode_revert(_selector("DatasetNotOwner(bytes32,uint64)") + b"\x00" * 5)
    assert isinstance(error, TransactionFailedError)


def test_eth_tester_revert_messages_yield_their_raw_bytes() -> None:
    raw = _selector("EnforcedPause()")
    assert revert_data_from_message(f"execution reverted: {raw!r}") == raw
    assert revert_data_from_message("execution reverted: plain reason") is None
    assert revert_data_from_message("execution reverted: b'unterminated") is None
