"""Hash uploads while they stream in: constant memory, nothing written to disk.

Two shapes are accepted: ``multipart/form-data`` with the bytes in a ``file`` part (other parts
are small form fields, e.g. JSON metadata), or a raw ``application/octet-stream`` body.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from ledger.errors import IncompleteUploadError, InvalidInputError, UploadTooLargeError
from ledger.hashing import Digest

#: Form fields other than the file are metadata, never large.
MAX_FIELD_BYTES = 64 * 1024
#: All of them together, and how many parts a body may have: bounds what is kept in memory.
MAX_FIELDS_BYTES = 4 * MAX_FIELD_BYTES
MAX_PARTS = 16
#: What a multipart body may carry besides the file: the fields, part headers, boundaries.
#: The transport guard (api/guard.py) lets uploads run this far past ``max_upload_bytes``.
MAX_ENVELOPE_BYTES = MAX_FIELDS_BYTES + 64 * 1024

#: Why an anonymous upload is refused: hashing it would cost the service what the caller can
#: do itself (the auditors' page hashes the file in the browser).
ANONYMOUS_UPLOAD = (
    'an upload needs a token; without one, send JSON {"content_hash": "0x…"} with the '
    "file's SHA-256"
)


@dataclass
class HashedUpload:
    """The SHA-256 of the uploaded bytes, their size, and the small form fields beside them."""

    digest: Digest
    size: int
    fields: dict[str, str] = field(default_factory=dict)


async def hash_upload(
    request: Request, *, max_bytes: int, file_field: str = "file"
) -> HashedUpload:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"application/octet-stream":
        return await _hash_raw(request, max_bytes)
    if content_type == b"multipart/form-data" and b"boundary" in options:
        return await _hash_multipart(request, options[b"boundary"], max_bytes, file_field)
    raise InvalidInputError(
        "send JSON with content_hash, multipart/form-data with a 'file' part, "
        "or an application/octet-stream body"
    )


async def arriving_body(request: Request) -> AsyncIterator[bytes]:
    """The body as it arrives. A client that leaves midway leaves an incomplete upload: its
    problem, not an error of the service's to log."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect as exc:
        raise IncompleteUploadError("the client went away before the upload ended") from exc


async def _hash_raw(request: Request, max_bytes: int) -> HashedUpload:
    hasher = hashlib.sha256()
    size = 0
    async for chunk in arriving_body(request):
        size += len(chunk)
        if size > max_bytes:
            raise UploadTooLargeError(f"the upload exceeds {max_bytes} bytes")
        hasher.update(chunk)
    return HashedUpload(digest=Digest(hasher.digest()), size=size)


class _MultipartHasher:
    """python-multipart callbacks: hash the file part, keep the small fields."""

    def __init__(self, file_field: str, max_bytes: int) -> None:
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.hasher = hashlib.sha256()
        self.size = 0
        self.seen_file = False
        self.ended = False
        self.parts = 0
        self.field_bytes = 0
        self.fields: dict[str, bytearray] = {}
        self.problem: InvalidInputError | None = None
        self._name: str | None = None
        self._header = b""
        self._value = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_header_field": lambda d, s, e: self._add_header(d[s:e]),
            "on_header_value": lambda d, s, e: self._add_value(d[s:e]),
            "on_header_end": self._header_end,
            "on_part_begin": self._part_begin,
            "on_part_data": lambda d, s, e: self._part_data(d[s:e]),
            "on_end": self._end,
        }

    def _end(self) -> None:
        self.ended = True  # the closing boundary was read

    def _add_header(self, data: bytes) -> None:
        self._header += data

    def _add_value(self, data: bytes) -> None:
        self._value += data

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            _, params = parse_options_header(self._value)
            self._name = params.get(b"name", b"").decode(errors="replace")
            # An empty part is an empty value, not a missing one, and gets no data callback:
            # note it here (an empty file is a file; an empty salt is an invalid salt).
            if self._name == self.file_field:
                self.seen_file = True
            else:
                self.fields.setdefault(self._name, bytearray())
        self._header = self._value = b""

    def _part_begin(self) -> None:
        self._name = None
        self.parts += 1
        if self.parts > MAX_PARTS and self.problem is None:
            self.problem = InvalidInputError(f"the multipart body has over {MAX_PARTS} parts")

    def _part_data(self, chunk: bytes) -> None:
        if self.problem is not None:
            return
        if self._name == self.file_field:
            self.seen_file = True
            self.size += len(chunk)
            if self.size > self.max_bytes:
                self.problem = UploadTooLargeError(f"the upload exceeds {self.max_bytes} bytes")
                return
            self.hasher.update(chunk)
            return
        value = self.fields.setdefault(self._name or "", bytearray())
        value += chunk
        self.field_bytes += len(chunk)
        if len(value) > MAX_FIELD_BYTES:
            self.problem = InvalidInputError(
                f"form field {self._name!r} is over {MAX_FIELD_BYTES} bytes"
            )
        elif self.field_bytes > MAX_FIELDS_BYTES:
            self.problem = InvalidInputError(f"the form fields are over {MAX_FIELDS_BYTES} bytes")


async def _hash_multipart(
    request: Request, boundary: bytes, max_bytes: int, file_field: str
) -> HashedUpload:
    state = _MultipartHasher(file_field, max_bytes)
    try:
        parser = MultipartParser(boundary, callbacks=state.callbacks())  # type: ignore[arg-type]
        async for chunk in arriving_body(request):
            parser.write(chunk)
            if state.problem is not None:
                raise state.problem
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInputError(f"the multipart body is malformed: {exc}") from exc
    if state.problem is not None:
        raise state.problem
    # finalize() accepts a body cut off anywhere: without its closing boundary the bytes hashed
    # may be a prefix of the file, so nothing is registered or verified.
    if not state.ended:
        raise IncompleteUploadError(
            "the multipart body ends before its closing boundary: the upload is incomplete"
        )
    if not state.seen_file:
        raise InvalidInputError(f"the multipart body has no {file_field!r} part")
    try:
        fields = {name: bytes(value).decode() for name, value in state.fields.items()}
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"a form field is not UTF-8: {exc}") from exc
    return HashedUpload(digest=Digest(state.hasher.digest()), size=state.size, fields=fields)
