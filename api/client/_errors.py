"""What the client raises: one tree under :class:`ClientError`, nothing from ``httpx2``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    from api.schemas import OperationPublic


class ClientError(Exception):
    """Base of everything the client raises: a machine-readable ``code`` and a human ``detail``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class ApiError(ClientError):
    """The service answered with an error (problem+json, RFC 9457)."""

    def __init__(self, status: int, code: str, detail: str, problem: Mapping[str, Any]) -> None:
        super().__init__(code, detail)
        self.status = status
        self.problem = dict(problem)


class ServiceUnreachableError(ClientError, ConnectionError):
    """No answer from the service (refused, reset, timed out) after the client's retries."""


class OperationTimeoutError(ClientError, TimeoutError):
    """An operation was still not confirmed or failed when the wait ran out."""

    def __init__(self, operation: OperationPublic, waited: float) -> None:
        super().__init__(
            "timeout",
            f"operation {operation.id} is still {operation.status} after {waited:.0f}s",
        )
        self.operation = operation


def problem_from(response: httpx2.Response) -> ApiError:
    """The error an unsuccessful answer stands for."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return ApiError(response.status_code, body["code"], str(body.get("detail", "")), body)
    # Not one of ours (a proxy's error page, say): keep the status and the start of the text.
    text = response.text.strip()[:300] or response.reason_phrase
    return ApiError(response.status_code, f"http-{response.status_code}", text, {})
