"""Sealed exchange over HTTP: sealed bytes into the blob store, and out of it to the departments
the chain says may read them, with their wrapped content keys (the rules are
:mod:`ledger.service.sealed`).

Uploads stream to disk on a worker thread, pulled chunk by chunk from the event loop, so a
large body never sits in memory and the loop never waits on the disk. Downloads are ranged
(``Range: bytes=N-``), so an interrupted fetch resumes where it stopped: the bytes are
content-addressed and never change, so the digest is a strong ``ETag``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Annotated, Any, BinaryIO

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlmodel import Session

from api.bodies import Body, takes
from api.deps import AskerDep, PrincipalDep, RuntimeDep
from api.routes.common import hex_bytes, path_id
from api.schemas import HEX32_PATTERN, DatasetIdPath, VersionPath, WrappedKeyHandover
from api.uploads import arriving_body
from ledger.hashing import Digest
from ledger.service import sealed as cases
from ledger.service.principal import PrincipalKind

router = APIRouter(tags=["sealed"])

#: Bytes a download sends per read of the blob.
_READ = 1 << 20

Sha256Path = Annotated[
    str,
    Path(pattern=HEX32_PATTERN[:-1].replace("^0x", "^") + "$", description="64 hex digits"),
]


class _PulledBody:
    """The request body as a blocking stream for a worker thread: each read pulls the next
    chunk from the event loop (``anyio.from_thread``), so nothing is buffered beyond one chunk
    and the loop only ever waits on the network."""

    def __init__(self, request: Request) -> None:
        self._chunks: AsyncIterator[bytes] = arriving_body(request)
        self._pending = b""
        self._ended = False

    async def _next(self) -> bytes | None:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return None

    def readinto(self, view: memoryview) -> int:
        while not self._pending and not self._ended:
            chunk = anyio.from_thread.run(self._next)
            if chunk is None:
                self._ended = True
            else:
                self._pending = chunk
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


@router.put(
    "/v1/blobs/sha256/{sha256}",
    status_code=201,
    summary="Upload sealed bytes to the blob store, named by their SHA-256",
    responses={200: {"description": "The same bytes were stored already"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
@takes(Body.SEALED)
async def put_blob(
    sha256: Sha256Path, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> JSONResponse:
    """The body (``application/octet-stream``, at most ``max_sealed_bytes``) must be a sealed
    stream (``docs/sealed-format.md``) whose SHA-256 is the path's: 422 ``blob-digest-mismatch``
    otherwise, and nothing is kept. Departments only: the bytes are theirs to register."""
    principal.require(PrincipalKind.DEPARTMENT)
    expected = Digest(bytes.fromhex(sha256))
    stored = await anyio.to_thread.run_sync(
        partial(cases.store_sealed_blob, runtime, principal, _PulledBody(request), expected)  # type: ignore[arg-type]
    )
    body = {"sha256": "0x" + stored.digest.value.hex(), "size": stored.size}
    return JSONResponse(body, status_code=201 if stored.created else 200)


_RANGE = re.compile(r"bytes=(\d{1,19})-(\d{0,19})")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive range a ``Range`` header asks for within ``size`` bytes, None for all of
    it (no header, or several ranges, which a server may answer whole); :class:`_Unsatisfiable`
    for a range that starts past the end."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # RFC 9110: a Range a server does not understand is ignored
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        raise _Unsatisfiable
    return start, min(end, size - 1)


class _Unsatisfiable(Exception):
    pass


def _chunks(stream: BinaryIO, length: int) -> Iterator[bytes]:
    """``length`` bytes of ``stream``, then close it (Starlette runs a plain iterator on a
    worker thread)."""
    with stream:
        while length > 0:
            chunk = stream.read(min(_READ, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


@router.get(
    "/v1/datasets/{dataset_id}/versions/{number}/sealed",
    summary="Download a sealed version's bytes (while the chain grants access)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        206: {"description": "The range asked for", "content": {"application/octet-stream": {}}},
        416: {"description": "The range starts past the end"},
    },
)
def get_sealed(
    dataset_id: DatasetIdPath,
    number: VersionPath,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    range_: Annotated[str | None, Header(alias="range", max_length=100)] = None,
) -> Any:
    """Only while the contract's ``hasAccess`` is true for the calling department at the
    current block (owners too): 403 ``access-not-granted`` otherwise. ``Range: bytes=N-``
    resumes a download."""
    lookup = cases.SealedLookup(hex_bytes(path_id(dataset_id)), number)
    with Session(runtime.engine) as session:
        sealed = cases.fetchable(session, runtime, principal, lookup)
    size = runtime.blobs.size(sealed.sha256)
    etag = f'"{sealed.sha256.value.hex()}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    try:
        wanted = _byte_range(range_, size)
    except _Unsatisfiable:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Range Not Satisfiable",
                "status": 416,
                "code": "range-not-satisfiable",
                "detail": f"the sealed bytes are {size} bytes long",
            },
            status_code=416,
            headers={"Content-Range": f"bytes */{size}"},
            media_type="application/problem+json",
        )
    start, end = wanted if wanted is not None else (0, size - 1)
    length = end - start + 1
    headers["Content-Length"] = str(length)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    stream = runtime.blobs.open(sealed.sha256, offset=start)
    return StreamingResponse(
        _chunks(stream, length),
        status_code=status,
        headers=headers,
        media_type="application/octet-stream",
    )


@router.get(
    "/v1/datasets/{dataset_id}/versions/{number}/sealed-key",
    summary="The calling department's wrapped content key of a sealed version",
)
def get_wrapped_key(dataset_id: DatasetIdPath, number: VersionPath, ask: AskerDep) -> Any:
    """With the binding it was wrapped for (chain id, registry, dataset, sealed bytes,
    department) and the recipient key's fingerprint, the directory's ``keyHash``: a
    self-custody department unwraps it in its own client. Only while the chain grants access."""
    lookup = cases.SealedLookup(hex_bytes(path_id(dataset_id)), number)
    return ask(cases.wrapped_key_for, lookup)


@router.post(
    "/v1/datasets/{dataset_id}/versions/{number}/content-key",
    summary="A sealed version's content key, unwrapped with the department's custodial key",
)
def open_content_key(dataset_id: DatasetIdPath, number: VersionPath, ask: AskerDep) -> Any:
    """For a department whose encryption key the service holds: the service unwraps its wrapped
    key and answers the content key, to open the sealed bytes in the department's client. Only
    while the chain grants access; 403 for a department that holds its own key."""
    lookup = cases.SealedLookup(hex_bytes(path_id(dataset_id)), number)
    return ask(cases.custodial_content_key, lookup)


@router.post(
    "/v1/datasets/{dataset_id}/sealed-keys",
    status_code=201,
    summary="Hand over a content key the owner wrapped to a department (self-custody owners)",
)
def hand_over_wrapped_key(
    dataset_id: DatasetIdPath,
    body: WrappedKeyHandover,
    runtime: RuntimeDep,
    principal: PrincipalDep,
) -> Any:
    """The owner's client wraps a sealed version's content key to a grantee's key in force
    (the service never sees the content key); checked against that key on chain."""
    command = cases.AddWrappedKey(
        dataset_id=hex_bytes(path_id(dataset_id)),
        sealed_sha256=Digest(hex_bytes(body.sealed_sha256)),
        department_id=body.department_id,
        wrapped_key=hex_bytes(body.wrapped_key),
    )
    with Session(runtime.engine) as session:
        answer = cases.add_wrapped_key(session, runtime, principal, command)
        session.commit()
    return answer
