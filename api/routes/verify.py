"""Auditors verify a file or a hash: the verdict comes from the chain, never the index alone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from api.bodies import Body, takes
from api.deps import PrincipalDep, RuntimeDep
from api.routes.common import validated
from api.schemas import VerifyRequest
from api.uploads import hash_upload
from ledger.hashing import Digest
from ledger.service.verification import VerdictCache, verify_digest

router = APIRouter(tags=["verify"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/VerifyRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/v1/verify",
    summary="Every registration of a file's bytes or of a hash, checked against the chain",
    openapi_extra=_BODY,
)
@takes(Body.UPLOAD)
async def verify(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Send JSON ``{"content_hash": "0x…"}``, a multipart ``file`` or a raw body. The answer
    lists each registration (earliest first) with dataset, version, department, the key that
    authorised it, block time, lineage, withdrawal and full chain coordinates."""
    size: int | None = None
    if request.headers.get("content-type", "").startswith("application/json"):
        body = validated(VerifyRequest, await request.body())
        digest = Digest.from_hex(body.content_hash)
    else:
        upload = await hash_upload(request, max_bytes=runtime.settings.max_upload_bytes)
        digest, size = upload.digest, upload.size
    cache: VerdictCache = _cache(request)
    answer = await run_in_threadpool(verify_digest, runtime, cache, digest)
    return {**answer, "size": size}


def _cache(request: Request) -> VerdictCache:
    state = request.app.state
    if not hasattr(state, "verdict_cache"):
        state.verdict_cache = VerdictCache()
    cache: VerdictCache = state.verdict_cache
    return cache
