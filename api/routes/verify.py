"""Auditors verify a file or a hash: the verdict comes from the chain, never the index alone.

Both routes are public reads (:func:`api.deps.get_reader`): where public reads are open, a
caller without a token verifies a hash (JSON) and gets the verdict of its registrations by
contract call; batched ones are shown on a need to know (:mod:`ledger.service.verification`).
Uploads need a token: hashing a file is work the caller can do itself."""

from __future__ import annotations

import json
from collections import Counter

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.bodies import Body, takes
from api.deps import ReaderDep, RuntimeDep
from api.routes.common import validated
from api.schemas import VerifyBatchAnswer, VerifyBatchRequest, VerifyRequest
from api.uploads import ANONYMOUS_UPLOAD, hash_upload
from ledger.errors import AuthenticationError
from ledger.hashing import Digest
from ledger.service.principal import PrincipalKind
from ledger.service.verification import VerdictCache, kept_verdict_json, verdicts_for
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
async def verify(request: Request, runtime: RuntimeDep, principal: ReaderDep) -> Response:
    """Send JSON ``{"content_hash": "0x…"}``, a multipart ``file`` or a raw body (a file needs
    a token; a hash does not where public reads are open). The answer lists each registration
    (earliest first) with dataset, version, department, the key that authorised it, block
    time, lineage, withdrawal and full chain coordinates; batched registrations only to a
    token that may read their dataset."""
    size: int | None = None
    if request.headers.get("content-type", "").startswith("application/json"):
        body = validated(VerifyRequest, await request.body())
        digest = Digest.from_hex(body.content_hash)
    elif principal.kind is PrincipalKind.PUBLIC:
        raise AuthenticationError(ANONYMOUS_UPLOAD)
    else:
        upload = await hash_upload(request, max_bytes=runtime.settings.max_upload_bytes)
        digest, size = upload.digest, upload.size
    cache: VerdictCache = _cache(request)
    kept = kept_verdict_json(runtime, cache, digest, size, principal=principal)
    if kept is not None:  # a dict lookup: answered here, no thread hop
        return Response(kept, media_type="application/json")

    def answer() -> str:
        # Encoded here, off the event loop: FastAPI's encoder walks a verdict's nested
        # documents in Python, which cost more than the verdict once cached.
        [verdict] = verdicts_for(runtime, cache, principal, [digest])
        return json.dumps({**verdict, "size": size})

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
async def verify_batch(request: Request, runtime: RuntimeDep, principal: ReaderDep) -> Response:
    """Send ``{"content_hashes": ["0x…", …]}``. Each hash gets the verdict ``POST /v1/verify``
    gives it (the same checks, the chain read in a few batches for all of them), in the order
    asked, with a status: ``matched``, ``withdrawn``, ``not-registered``,
    ``signature-invalid`` or ``history-incomplete``; ``counts`` totals them."""
    body = validated(VerifyBatchRequest, await request.body())
    digests = [Digest.from_hex(h) for h in body.content_hashes]
    cache = _cache(request)

    def answer() -> str:
        answers = verdicts_for(runtime, cache, principal, digests, keep=False)
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
