"""Requests to the service: bearer token, retries, Idempotency-Keys, streamed uploads."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx2

from api.client._errors import ServiceUnreachableError, problem_from

#: Makes the multipart arguments of one attempt (see :meth:`Http.send`).
Upload = Callable[[], AbstractContextManager[dict[str, Any]]]


class ReportingFile(io.FileIO):
    """A file whose reads report how far the upload has got."""

    def __init__(self, path: Path, on_progress: Callable[[int], None] | None) -> None:
        super().__init__(path, "rb")
        self._on_progress = on_progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self._on_progress is not None:
            self._on_progress(self.tell())
        return chunk or b""


def file_upload(
    path: Path, fields: Mapping[str, Any], on_progress: Callable[[int], None] | None
) -> Upload:
    """A multipart upload of ``path`` as the ``file`` part, ``fields`` as the other parts
    (objects as JSON text); the file is opened afresh, from its start, for each attempt."""
    form = {name: v if isinstance(v, str) else json.dumps(v) for name, v in fields.items()}

    @contextmanager
    def attempt() -> Iterator[dict[str, Any]]:
        with ReportingFile(path, on_progress) as handle:
            yield {
                "files": {"file": (path.name, handle, "application/octet-stream")},
                "data": form,
            }

    return attempt


#: Answers that mean "nothing was done, ask again shortly": the service, its chain or its blob
#: store is busy or unreachable (503), an earlier attempt of this very write (same
#: Idempotency-Key) is still being processed (409), or this client has been refused too often
#: lately (429).
_COME_BACK_LATER = frozenset(
    {
        "database-busy",
        "chain-unavailable",
        "blob-store-unavailable",
        "idempotency-key-in-use",
        "too-many-errors",
        "http-503",
    }
)
#: Bytes read or written at a time when streaming a file up or down.
_PIECE = 1 << 20
#: The longest a Retry-After header may make the client sleep between attempts.
_MAX_RETRY_AFTER = 10.0


def _retry_after(response: httpx2.Response, default: float) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", default)), 0.0), _MAX_RETRY_AFTER)
    except ValueError:  # an HTTP date: not worth parsing for a few seconds
        return default


class BodyReader:
    """A response body as a blocking binary stream (``readinto``, ``read``) over its chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readinto(self, view: memoryview) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return self._pending.tobytes() + b"".join(self._chunks)
        buffer = bytearray(size)
        count = self.readinto(memoryview(buffer))
        return bytes(buffer[:count])


class Http:
    """An ``httpx2`` client for one service: answers as decoded JSON, errors as
    :mod:`api.client._errors`. Requests that get no answer, or an answer that asks to come back
    later (503, or 409 ``idempotency-key-in-use`` while an earlier attempt of the same write
    runs), are retried ``retries`` times with exponential backoff or the ``Retry-After``."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx2.BaseTransport | None,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self._client = httpx2.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        upload: Upload | None = None,
        idempotency_key: str | None = None,
        as_text: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One request (retried when unanswered); the decoded JSON body of a 2xx answer, or
        its text if ``as_text`` (documents in other formats than JSON).

        ``upload`` makes the multipart arguments afresh for each attempt, so a retried upload
        streams the file again from its start."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        headers.update(extra_headers or {})
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.retries + 1):
            try:
                if upload is None:
                    response = self._client.request(
                        method, path, json=json_body, params=query, headers=headers
                    )
                else:
                    with upload() as form:
                        response = self._client.request(method, path, headers=headers, **form)
            except httpx2.TransportError as exc:
                if attempt == self.retries:
                    reason = str(exc) or type(exc).__name__
                    raise ServiceUnreachableError(
                        "unreachable", f"no answer from {self.base_url}: {reason}"
                    ) from exc
                time.sleep(self.backoff * 2**attempt)
                continue
            if response.is_success:
                return response.text if as_text else response.json()
            problem = problem_from(response)
            if attempt < self.retries and problem.code in _COME_BACK_LATER:
                time.sleep(_retry_after(response, self.backoff * 2**attempt))
                continue
            raise problem
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def put_file(
        self, path: str, file: Path, on_progress: Callable[[int], None] | None = None
    ) -> Any:
        """PUT the bytes of ``file`` as an ``application/octet-stream`` body of declared length,
        streamed in 1 MiB reads (from the start again on a retry)."""
        size = file.stat().st_size

        @contextmanager
        def attempt() -> Iterator[dict[str, Any]]:
            with ReportingFile(file, on_progress) as handle:
                yield {"content": iter(lambda: handle.read(_PIECE), b"")}

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        return self.send("PUT", path, upload=attempt, extra_headers=headers)

    @contextmanager
    def body_reader(
        self, path: str, *, start: int = 0, end: int | None = None
    ) -> Iterator[BodyReader]:
        """The body of ``GET path`` from byte ``start`` (to ``end``, inclusive) as a blocking
        binary stream, read as it arrives. An answer that is not the range asked for is
        refused, so a resumed download never splices two different bodies."""
        ranged = start > 0 or end is not None
        headers = {"Range": f"bytes={start}-{'' if end is None else end}"} if ranged else {}
        try:
            with self._client.stream("GET", path, headers=headers) as response:
                if not response.is_success:
                    response.read()
                    raise problem_from(response)
                if ranged and response.status_code != 206:
                    raise ServiceUnreachableError(
                        "range-ignored", f"asked for bytes {start}-, got the whole body"
                    )
                yield BodyReader(response.iter_bytes(_PIECE))
        except httpx2.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise ServiceUnreachableError(
                "unreachable", f"the download from {self.base_url} broke off: {reason}"
            ) from exc

    def post(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        upload: Upload | None = None,
    ) -> Any:
        """A write: sent with ``idempotency_key``, or with a new one kept across retries."""
        key = idempotency_key or str(uuid.uuid4())
        return self.send("POST", path, json_body=body, upload=upload, idempotency_key=key)
