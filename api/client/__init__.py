"""A typed client for the provledger v1 HTTP API: what ``provledger dept|register|access…`` use.

Every write carries an ``Idempotency-Key`` generated once per call and reused by the client's
own retries, so a request whose answer was lost in transit is replayed by the service instead
of being done twice. Errors are translated at this boundary: a problem+json answer becomes an
:class:`ApiError` (status, code, detail), an unreachable service a
:class:`ServiceUnreachableError`; nothing from ``httpx2`` escapes. Sealing and opening sealed
versions in the client is :mod:`api.client.sealed` (imported on use: it brings cryptography).
"""

from api.client._client import Parent, ProvledgerClient
from api.client._errors import (
    ApiError,
    ClientError,
    OperationTimeoutError,
    ServiceUnreachableError,
)

__all__ = [
    "ApiError",
    "ClientError",
    "OperationTimeoutError",
    "Parent",
    "ProvledgerClient",
    "ServiceUnreachableError",
]
