"""Auditors verify a file or a hash: the verdict comes from the chain, never the index alone."""

from __future__ import annotations

import json
from collections import Counter

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.bodies import Body, takes
from api.deps import PrincipalDep, RuntimeDep
from api.routes.common import validated
from api.schemas import VerifyBatchAnswer, VerifyBatchRequest, VerifyRequest
from api.uploads import hash_upload
from ledger.hashing import Digest
from ledger.service.verification import (
    VerdictCache,
    kept_verdict_json,
    verify_digest,
    verify_digests,
)
from ledger.verifier import verdict_summary

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
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
    openapi_extra=_BODY,
)
@takes(Body.UPLOAD)
async def verify(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
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
    kept = kept_verdict_json(runtime, cache, digest, size)
    if kept is not None:  # a dict lookup: answered here, no thread hop
        return Response(kept, media_type="application/json")

    def answer() -> str:
        # Encoded here, off the event loop: FastAPI's encoder walks a verdict's nested
        # documents in Python, which cost more than the verdict once cached.
        return json.dumps({**verify_digest(runtime, cache, digest), "size": size})

    return Response(await run_in_threadpool(answer), media_type="application/json")


@router.post(
    "/v1/verify/batch",
    summary="Up to 10,000 hashes checked against the chain in one request (catalogue audits)",
    responses={200: {"model": VerifyBatchAnswer}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/VerifyBatchRequest"}}
            },
        }
    },
)
@takes(Body.BULK)
async def verify_batch(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    """Send ``{"content_hashes": ["0x…", …]}``. Each hash gets the verdict ``POST /v1/verify``
    gives it (the same checks, the chain read in a few batches for all of them), in the order
    asked, with a status: ``matched``, ``withdrawn``, ``not-registered``,
    ``signature-invalid`` or ``history-incomplete``; ``counts`` totals them."""
    body = validated(VerifyBatchRequest, await request.body())
    digests = [Digest.from_hex(h) for h in body.content_hashes]
    cache = _cache(request)

    def answer() -> str:
        answers = verify_digests(runtime, cache, digests, keep=False)
        results = answers if body.detail == "full" else [verdict_summary(a) for a in answers]
        return json.dumps(
            {
                "verified_at_block": answers[0]["verified_at_block"],
                "counts": dict(Counter(a["status"] for a in answers)),
                "results": results,
            },
            separators=(",", ":"),
        )

    # Verifying and encoding thousands of verdicts is work: off the event loop.
    return Response(await run_in_threadpool(answer), media_type="application/json")


def _cache(request: Request) -> VerdictCache:
    state = request.app.state
    if not hasattr(state, "verdict_cache"):
        state.verdict_cache = VerdictCache()
    cache: VerdictCache = state.verdict_cache
    return cache
