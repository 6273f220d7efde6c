"""``POST /rpc``: the ledger's chain as a standard, read-only Ethereum JSON-RPC endpoint.

The JSON-RPC server is :class:`ledger.rpc.RpcServer`; this route only checks access, reads the
body (bounded) and hands it over. Access follows ``PROVLEDGER_RPC_ACCESS``: open, or any valid
API token as ``Authorization: Bearer`` (a refused request is a 401 problem document, before any
JSON-RPC is read). The server never blocks the event loop: reads go to the thread pool, an
``eth_call`` to a worker process it awaits without holding a thread.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.bodies import Body, takes
from api.deps import RuntimeDep, get_principal
from api.errors import problem
from ledger.rpc import RpcServer
from ledger.rpc.envelope import MAX_BODY_BYTES

router = APIRouter(tags=["chain"])


async def _read_body(request: Request) -> bytes | None:
    """The body, or None if it is larger than any JSON-RPC request may be."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/rpc",
    summary="Read-only Ethereum JSON-RPC onto the ledger's chain",
    description="JSON-RPC 2.0 (single calls or batches of up to 100) with the read methods of "
    "ethereum/execution-apis: chain id, blocks, transactions, receipts, logs, state, "
    "eth_call (gas cap and time limit), eth_getProof, fees. Writes go through the API.",
    response_model=None,
    openapi_extra={
        # Open or token, by configuration: either no credentials or a bearer token.
        "security": [{}, {"HTTPBearer": []}],
        # JSON-RPC answers every request it can read, a missing or broken one included, with
        # 200 and an error object (-32700, -32600…), as Ethereum nodes do; so any body is
        # "valid" at the HTTP level.
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "description": "A JSON-RPC 2.0 request object, or a batch (array) of "
                        "1 to 100; answers are JSON-RPC objects (errors included) with 200."
                    }
                }
            },
        },
    },
)
@takes(Body.RPC)
async def rpc(request: Request, runtime: RuntimeDep) -> Response:
    if runtime.settings.resolved_rpc_access == "token":
        await get_principal(request, None)  # raises AuthenticationError: 401
    body = await _read_body(request)
    if body is None:
        return problem(413, "too-large", f"a JSON-RPC body is at most {MAX_BODY_BYTES} bytes")
    server: RpcServer = request.app.state.rpc
    answer = await server.respond(body, run_in_threadpool)
    if answer.refused:  # a client error in JSON-RPC's terms (answered 200): api/throttle counts it
        request.state.client_error = True
    if answer.text is None:  # notifications only: JSON-RPC answers nothing
        return Response(status_code=204)
    return Response(answer.text, media_type="application/json")
