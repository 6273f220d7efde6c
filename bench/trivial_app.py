#!/usr/bin/env python
"""The same-run baseline of ``bench/api_load.py``: trivial FastAPI endpoints on the paths the
service answers, served by :func:`api.server.run` exactly as ``provledger serve`` serves the
service (one process, same uvicorn settings), on ``PROVLEDGER_HOST``/``PROVLEDGER_PORT``.

Each endpoint reads the whole request body and answers a small JSON object: what any FastAPI
endpoint must do at least, with no database, chain or hashing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.server import run
from ledger.config import Settings

app = FastAPI(title="baseline")


@app.get("/readyz")
def ready() -> dict[str, Any]:
    return {"ready": True}


@app.post("/v1/verify")
@app.post("/v1/verify/batch")
async def verify(request: Request) -> dict[str, Any]:
    body = await request.body()
    return {"matched": False, "size": len(body)}


@app.post("/v1/datasets")
@app.post("/v1/datasets/batch")
async def register(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"operation_id": "op_baseline", "size": len(body)}, status_code=202)


if __name__ == "__main__":
    run(app, Settings())  # PROVLEDGER_HOST, PROVLEDGER_PORT and the limits, as the service
