"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep
from ledger.readiness import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    # Async on purpose: it needs no worker thread, so it answers even when every request
    # thread is busy (that is what a liveness probe must tell apart from a dead process).
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready, or degraded and why: chain reachable and moving, database, relayer",
    responses={503: {"description": "Degraded: `reasons` names each fault"}},
)
def readyz(runtime: RuntimeDep) -> JSONResponse:
    state = readiness(runtime)
    return JSONResponse(
        {
            "status": "ready" if state.ready else "degraded",
            "reasons": list(state.reasons),
            "checks": state.checks,
        },
        status_code=200 if state.ready else 503,
    )
