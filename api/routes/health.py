"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session

from api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    # Async on purpose: it needs no worker thread, so it answers even when every request
    # thread is busy (that is what a liveness probe must tell apart from a dead process).
    return {"status": "ok"}


@router.get("/readyz", summary="Chain and database reachable; how far behind the indexer is")
def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    ready = True
    try:
        checks["chain"] = {
            "ok": True,
            "chain_id": runtime.chain.chain_id,
            "head": runtime.chain.w3.eth.block_number,
        }
    except Exception as exc:
        ready = False
        checks["chain"] = {"ok": False, "error": str(exc)}
    try:
        with Session(runtime.engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        checks["database"] = {"ok": True}
    except Exception as exc:
        ready = False
        checks["database"] = {"ok": False, "error": str(exc)}
    try:
        checks["indexer"] = {
            "ok": True,
            "last_block": runtime.indexer.last_indexed_block(),
            "lag_blocks": runtime.indexer.lag(),
        }
    except Exception as exc:
        checks["indexer"] = {"ok": False, "error": str(exc)}
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )
