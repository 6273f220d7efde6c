"""Every error the ledger raises has the HTTP status a client can act on; none is a 500."""

from __future__ import annotations

import inspect

import pytest

from api.errors import status_of
from ledger import errors

#: Errors that are the service's own failure, not the request's: a 500 is the honest answer.
SERVER_FAILURES = (
    errors.ToolchainError,
    errors.ArtifactError,
    errors.ConfigurationError,
    errors.KeystoreError,
    errors.ChainError,
    errors.RpcError,
    errors.MerkleError,
    errors.BlobStoreError,  # a missing bucket, refused credentials (unreachable is a 503)
)


def _ledger_errors() -> list[type[errors.LedgerError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.LedgerError) and cls is not errors.LedgerError
    ]


@pytest.mark.parametrize("error", _ledger_errors(), ids=lambda cls: cls.__name__)
def test_an_error_of_the_request_is_never_answered_500(error: type[errors.LedgerError]) -> None:
    status = status_of(error.__new__(error))
    if status == 500:
        assert issubclass(error, SERVER_FAILURES), f"{error.__name__} ({error.code}) maps to 500"
    else:
        assert 400 <= status < 600


@pytest.mark.parametrize(
    "error", [errors.SealTamperedError, errors.SealTruncatedError, errors.WrappedKeyError]
)
def test_sealed_data_that_does_not_open_is_invalid_input(error: type[errors.LedgerError]) -> None:
    assert status_of(error("no")) == 422
