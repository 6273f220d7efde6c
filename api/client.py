"""A typed client for the provledger v1 HTTP API: what ``provledger dept|register|access…`` use.

Every write carries an ``Idempotency-Key`` generated once per call and reused by the client's
own retries, so a request whose answer was lost in transit is replayed by the service instead
of being done twice. Errors are translated at this boundary: a problem+json answer becomes an
:class:`ApiError` (status, code, detail), an unreachable service a
:class:`ServiceUnreachableError`; nothing from ``httpx2`` escapes.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx2

if TYPE_CHECKING:
    from api.schemas import Accepted, DepartmentEnrolled, OperationPublic, TokenIssued

__all__ = [
    "ApiError",
    "ClientError",
    "OperationTimeoutError",
    "Parent",
    "ProvledgerClient",
    "ServiceUnreachableError",
]

#: A parent version: (dataset id as 0x-hex, version number).
Parent = tuple[str, int]

#: Operation states after which nothing changes any more.
SETTLED = frozenset({"confirmed", "failed"})


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


class _ReportingFile(io.FileIO):
    """A file whose reads report how far the upload has got."""

    def __init__(self, path: Path, on_progress: Callable[[int], None] | None) -> None:
        super().__init__(path, "rb")
        self._on_progress = on_progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self._on_progress is not None:
            self._on_progress(self.tell())
        return chunk or b""


def _problem(response: httpx2.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return ApiError(response.status_code, body["code"], str(body.get("detail", "")), body)
    # Not one of ours (a proxy's error page, say): keep the status and the start of the text.
    text = response.text.strip()[:300] or response.reason_phrase
    return ApiError(response.status_code, f"http-{response.status_code}", text, {})


# The answers are parsed into api.schemas models, imported on first use: building those models
# takes a third of a second, which every `provledger` command would otherwise pay at start-up.


def _accepted(answer: Any) -> Accepted:
    from api.schemas import Accepted

    return Accepted.model_validate(answer)


def _enrolled(answer: Any) -> DepartmentEnrolled:
    from api.schemas import DepartmentEnrolled

    return DepartmentEnrolled.model_validate(answer)


def _token(answer: Any) -> TokenIssued:
    from api.schemas import TokenIssued

    return TokenIssued.model_validate(answer)


def _operation(answer: Any) -> OperationPublic:
    from api.schemas import OperationPublic

    return OperationPublic.model_validate(answer)


def _parents(parents: Sequence[Parent]) -> list[dict[str, Any]]:
    return [{"dataset_id": dataset_id, "version": version} for dataset_id, version in parents]


class ProvledgerClient:
    """The v1 API at ``base_url``, authenticated with a bearer ``token``.

    ``transport`` is injected for tests and proxies (an ``httpx2`` transport). Requests that get
    no answer are retried ``retries`` times with exponential backoff; writes keep their
    Idempotency-Key across those retries. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx2.BaseTransport | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.25,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._http = httpx2.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ProvledgerClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        upload: Callable[[], AbstractContextManager[dict[str, Any]]] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One request (retried when unanswered); the decoded JSON body of a 2xx answer.

        ``upload`` makes the multipart arguments afresh for each attempt, so a retried upload
        streams the file again from its start."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.retries + 1):
            try:
                if upload is None:
                    response = self._http.request(
                        method, path, json=json_body, params=query, headers=headers
                    )
                else:
                    with upload() as form:
                        response = self._http.request(method, path, headers=headers, **form)
            except httpx2.TransportError as exc:
                if attempt == self.retries:
                    reason = str(exc) or type(exc).__name__
                    raise ServiceUnreachableError(
                        "unreachable", f"no answer from {self.base_url}: {reason}"
                    ) from exc
                time.sleep(self.backoff * 2**attempt)
                continue
            if response.is_success:
                return response.json()
            raise _problem(response)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _write(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        upload: Callable[[], AbstractContextManager[dict[str, Any]]] | None = None,
    ) -> Any:
        key = idempotency_key or str(uuid.uuid4())
        return self._send("POST", path, json_body=body, upload=upload, idempotency_key=key)

    def _write_content(
        self,
        path: str,
        content: str | Path,
        fields: dict[str, Any],
        *,
        idempotency_key: str | None,
        on_upload_progress: Callable[[int], None] | None,
    ) -> Accepted:
        """A JSON write naming ``content`` by hash (str), or a multipart upload of a file (Path)
        whose other parts are ``fields``, objects as JSON text."""
        if isinstance(content, str):
            answer = self._write(
                path, {"content_hash": content, **fields}, idempotency_key=idempotency_key
            )
            return _accepted(answer)
        form = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in fields.items()
        }

        @contextmanager
        def upload() -> Iterator[dict[str, Any]]:
            with _ReportingFile(content, on_upload_progress) as handle:
                yield {
                    "files": {"file": (content.name, handle, "application/octet-stream")},
                    "data": form,
                }

        answer = self._write(path, idempotency_key=idempotency_key, upload=upload)
        return _accepted(answer)

    # --- governance -----------------------------------------------------------------------

    def enrol_department(
        self,
        department_id: int,
        name: str,
        *,
        signer_address: str | None = None,
        idempotency_key: str | None = None,
    ) -> DepartmentEnrolled:
        """Enrol a department (governance). The answer holds its first token, shown once."""
        body: dict[str, Any] = {"department_id": department_id, "name": name}
        if signer_address is not None:
            body["signer_address"] = signer_address
        answer = self._write("/v1/departments", body, idempotency_key=idempotency_key)
        return _enrolled(answer)

    def suspend_department(
        self, department_id: int, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        answer = self._write(
            f"/v1/departments/{department_id}/suspend",
            {"reason": reason},
            idempotency_key=idempotency_key,
        )
        return _accepted(answer)

    def reactivate_department(
        self, department_id: int, *, idempotency_key: str | None = None
    ) -> Accepted:
        answer = self._write(
            f"/v1/departments/{department_id}/reactivate", idempotency_key=idempotency_key
        )
        return _accepted(answer)

    def issue_department_token(self, department_id: int, *, label: str = "") -> TokenIssued:
        answer = self._write(f"/v1/departments/{department_id}/tokens", {"label": label})
        return _token(answer)

    def issue_auditor_token(self, *, label: str = "") -> TokenIssued:
        return _token(self._write("/v1/auditors", {"label": label}))

    def revoke_token(self, token_id: str) -> dict[str, Any]:
        return dict(self._write(f"/v1/tokens/{token_id}/revoke"))

    def department_nonces(self, department_id: int) -> dict[str, Any]:
        return dict(self._send("GET", f"/v1/departments/{department_id}/nonces"))

    # --- datasets -------------------------------------------------------------------------

    def create_dataset(
        self,
        content: str | Path,
        *,
        title: str,
        description: str = "",
        classification: str = "internal",
        licence: str = "",
        source_system: str = "",
        tags: Sequence[str] = (),
        parents: Sequence[Parent] = (),
        idempotency_key: str | None = None,
        on_upload_progress: Callable[[int], None] | None = None,
    ) -> Accepted:
        """Register a dataset and its first version. ``content`` is the 0x-hex SHA-256 of the
        bytes (they stay with the caller) or a file to upload (the service hashes it)."""
        metadata = {
            "title": title,
            "description": description,
            "licence": licence,
            "source_system": source_system,
            "tags": list(tags),
        }
        fields = {
            "classification": classification,
            "metadata": metadata,
            "parents": _parents(parents),
        }
        return self._write_content(
            "/v1/datasets",
            content,
            fields,
            idempotency_key=idempotency_key,
            on_upload_progress=on_upload_progress,
        )

    def add_version(
        self,
        dataset_id: str,
        content: str | Path,
        *,
        note: str = "",
        tags: Sequence[str] = (),
        parents: Sequence[Parent] = (),
        idempotency_key: str | None = None,
        on_upload_progress: Callable[[int], None] | None = None,
    ) -> Accepted:
        """Append a version to one of the caller's datasets; ``content`` as for
        :meth:`create_dataset`."""
        fields = {"metadata": {"note": note, "tags": list(tags)}, "parents": _parents(parents)}
        return self._write_content(
            f"/v1/datasets/{dataset_id}/versions",
            content,
            fields,
            idempotency_key=idempotency_key,
            on_upload_progress=on_upload_progress,
        )

    def withdraw_dataset(
        self, dataset_id: str, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        answer = self._write(
            f"/v1/datasets/{dataset_id}/withdraw",
            {"reason": reason},
            idempotency_key=idempotency_key,
        )
        return _accepted(answer)

    def list_datasets(
        self, *, owner: int | None = None, cursor: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """One page: ``items``, ``next_cursor`` (None on the last page), ``indexed_block``."""
        params = {"owner": owner, "cursor": cursor, "limit": limit}
        return dict(self._send("GET", "/v1/datasets", params=params))

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        return dict(self._send("GET", f"/v1/datasets/{dataset_id}"))

    def get_version(self, dataset_id: str, version: int) -> dict[str, Any]:
        return dict(self._send("GET", f"/v1/datasets/{dataset_id}/versions/{version}"))

    def audit_events(
        self,
        *,
        dataset: str | None = None,
        department: int | None = None,
        kind: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of the event history, oldest first."""
        params = {
            "dataset": dataset,
            "department": department,
            "kind": kind,
            "cursor": cursor,
            "limit": limit,
        }
        return dict(self._send("GET", "/v1/audit/events", params=params))

    # --- access ---------------------------------------------------------------------------

    def request_access(
        self,
        dataset_id: str,
        *,
        purpose: str,
        duration_seconds: int,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Ask the owner for access; ``resource["request_id"]`` names the request."""
        body = {"purpose": purpose, "duration_seconds": duration_seconds}
        answer = self._write(
            f"/v1/datasets/{dataset_id}/access-requests", body, idempotency_key=idempotency_key
        )
        return _accepted(answer)

    def approve_access(
        self, request_id: str, *, expires_at: int, idempotency_key: str | None = None
    ) -> Accepted:
        answer = self._write(
            f"/v1/access-requests/{request_id}/approve",
            {"expires_at": expires_at},
            idempotency_key=idempotency_key,
        )
        return _accepted(answer)

    def deny_access(
        self, request_id: str, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        answer = self._write(
            f"/v1/access-requests/{request_id}/deny",
            {"reason": reason},
            idempotency_key=idempotency_key,
        )
        return _accepted(answer)

    def cancel_access_request(
        self, request_id: str, *, idempotency_key: str | None = None
    ) -> Accepted:
        answer = self._write(
            f"/v1/access-requests/{request_id}/cancel", {}, idempotency_key=idempotency_key
        )
        return _accepted(answer)

    def revoke_access(
        self, request_id: str, *, reason: str = "", idempotency_key: str | None = None
    ) -> Accepted:
        """End an approved grant (a grant's id is its request's id)."""
        answer = self._write(
            f"/v1/grants/{request_id}/revoke", {"reason": reason}, idempotency_key=idempotency_key
        )
        return _accepted(answer)

    def has_access(
        self, dataset_id: str, department_id: int, *, block: int | None = None
    ) -> dict[str, Any]:
        """The contract's answer (``has_access``) with the block it was asked at."""
        params = {"department": department_id, "block": block}
        return dict(self._send("GET", f"/v1/datasets/{dataset_id}/access", params=params))

    # --- operations -----------------------------------------------------------------------

    def get_operation(self, operation_id: str) -> OperationPublic:
        return _operation(self._send("GET", f"/v1/operations/{operation_id}"))

    def wait_for_operation(
        self,
        operation_id: str,
        *,
        timeout: float = 120.0,
        on_update: Callable[[OperationPublic], None] | None = None,
        max_interval: float = 1.0,
    ) -> OperationPublic:
        """Poll until the operation is ``confirmed`` or ``failed`` and return it (a failure is
        an answer, not an exception: ``error`` says why). Polls quickly at first, then back off
        to ``max_interval``. Raises :class:`OperationTimeoutError` after ``timeout`` seconds."""
        started = time.monotonic()
        interval = 0.05
        while True:
            operation = self.get_operation(operation_id)
            if on_update is not None:
                on_update(operation)
            if operation.status in SETTLED:
                return operation
            waited = time.monotonic() - started
            if waited >= timeout:
                raise OperationTimeoutError(operation, waited)
            time.sleep(min(interval, timeout - waited))
            interval = min(interval * 1.5, max_interval)
