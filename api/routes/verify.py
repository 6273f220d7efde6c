"""Auditors verify a file or a hash: the verdict comes from the chain, never the index alone."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import PrincipalDep, RuntimeDep
from api.schemas import VerifyRequest
from api.uploads import hash_upload
from ledger.anchoring.queue import anchored_candidates
from ledger.errors import InvalidProofError
from ledger.hashing import Digest
from ledger.verifier import Verifier

router = APIRouter(tags=["verify"])
log = logging.getLogger(__name__)

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
async def verify(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> dict[str, Any]:
    """Send JSON ``{"content_hash": "0x…"}``, a multipart ``file`` or a raw body. The answer
    lists each registration (earliest first) with dataset, version, department, the key that
    authorised it, block time, lineage, withdrawal and full chain coordinates."""
    size: int | None = None
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = VerifyRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
        digest = Digest.from_hex(body.content_hash)
    else:
        upload = await hash_upload(request, max_bytes=runtime.settings.max_upload_bytes)
        digest, size = upload.digest, upload.size
    verifier = Verifier.for_ledger(runtime.ledger)
    verdict = verifier.verify(digest)
    with Session(runtime.engine) as session:
        candidates = anchored_candidates(session, digest.hex())
    for candidate in candidates:
        try:
            verdict.registrations.append(
                verifier.verify_anchored(
                    candidate.record,
                    candidate.proof,
                    candidate.root,
                    withdrawn=candidate.withdrawn,
                )
            )
        except InvalidProofError as exc:
            # Not anchored yet (or not as recorded): the chain does not vouch for it, so it is
            # not a registration. Never answered from our records alone.
            log.info("verify: batched record of %s not proven: %s", digest, exc)
    verdict.registrations.sort(
        key=lambda r: (r.block_number, r.log_index, (r.anchor or {}).get("leaf_index", 0))
    )
    answer = verdict.to_dict()
    answer["size"] = size
    answer["verified_at_block"] = runtime.chain.w3.eth.block_number
    return answer
