"""Every answer says when the chain node is not answering: ``Provledger-Chain: unavailable``.

Reads are answered from the index while the node is away (``GET /v1/datasets`` and the like); the
header tells a client that what it reads may lag the chain, without a field in every schema. It
comes from the head watch's last read (:mod:`ledger.chain.head`), so it costs no request to the
node; answers carry no such header while the node answers.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.runtime import Runtime

HEADER = "Provledger-Chain"


class ChainStatusHeader:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime  # its head watch read per answer, so it may be set up later

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen = self.runtime.head.snapshot()
                if seen.attempted_at is not None and not seen.reachable:
                    MutableHeaders(scope=message).append(HEADER, "unavailable")
            await send(message)

        await self.app(scope, receive, send_marked)
