"""The sealed exchange's errors: one family under SealError, each with a stable code that the
HTTP layer and clients may rely on."""

from __future__ import annotations

import ledger.errors as errors
from ledger.errors import LedgerError, SealError

# Codes are an interface: changing one breaks clients that match on it.
STABLE_CODES = {
    "SealError": "seal-error",
    "SealFormatError": "seal-format",
    "SealVersionError": "seal-unknown-version",
    "SealKeyError": "seal-wrong-key",
    "SealTamperedError": "seal-tampered",
    "SealReorderedError": "seal-reordered",
    "SealTrailingDataError": "seal-trailing-data",
    "SealTruncatedError": "seal-truncated",
    "SealContentMismatchError": "seal-content-mismatch",
    "EncryptionKeyFormatError": "encryption-key-invalid",
    "WrappedKeyError": "wrapped-key-invalid",
    "WrappedKeySuiteError": "wrapped-key-suite-mismatch",
    "WrappedKeyRecipientError": "wrapped-key-wrong-recipient",
    "SealedBlobMissingError": "sealed-blob-missing",
    "RecipientKeyMissingError": "recipient-key-missing",
    "EncryptionKemUnsupportedError": "encryption-kem-unsupported",
}


def family() -> list[type[SealError]]:
    found, pending = [], [SealError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_sealing_error_has_its_stable_code() -> None:
    assert {cls.__name__: cls.code for cls in family()} == STABLE_CODES


def test_no_other_ledger_error_shares_a_sealing_code() -> None:
    everything, pending = [], [LedgerError]
    while pending:
        cls = pending.pop()
        everything.append(cls)
        pending.extend(cls.__subclasses__())
    others = {cls.code for cls in everything if not issubclass(cls, SealError)}
    assert others.isdisjoint(STABLE_CODES.values())


def test_every_sealing_error_is_documented_and_also_a_builtin() -> None:
    for cls in family()[1:]:
        assert cls.__doc__, cls
        builtins = [b for b in cls.__mro__ if b.__module__ == "builtins" and b is not object]
        assert builtins != [Exception, BaseException], f"{cls.__name__} inherits no builtin"


def test_the_errors_module_exports_them_all() -> None:
    assert all(getattr(errors, name) for name in STABLE_CODES)
