"""Raw JSON-RPC batches to a node: answers in the order asked, whatever order the node sends
them in; a node that refuses batches, errs or leaves a call unanswered is a clear ChainError."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from ledger.errors import ChainError, ChainUnavailableError
from ledger.rpc.client import HttpJsonRpc

Answer = Callable[[list[dict[str, Any]]], Any]


@pytest.fixture
def node() -> Iterator[Callable[[Answer], str]]:
    """A stub node answering each POSTed batch with ``answer(batch)``; its URL."""
    servers: list[HTTPServer] = []

    def start(answer: Answer) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                payload = json.dumps(answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_answers_come_back_in_the_order_asked_across_posts(node: Callable[[Answer], str]) -> None:
    posts: list[int] = []

    def reversed_answers(batch: list[dict[str, Any]]) -> Any:
        posts.append(len(batch))
        return [{"jsonrpc": "2.0", "id": c["id"], "result": c["params"][0]} for c in batch][::-1]

    rpc = HttpJsonRpc(node(reversed_answers))
    rpc.batch_size = 3

    assert rpc.batch([("echo", [n]) for n in range(7)]) == list(range(7))
    assert posts == [3, 3, 1]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda b: {"id": None, "error": {"code": -32600}}, "refused a JSON-RPC batch"),
        (lambda b: [{"id": 0, "error": {"code": -32000, "message": "boom"}}], "echo failed"),
        (lambda b: [], "left echo (id 0) unanswered"),
    ],
)  # fmt: skip
def test_a_node_that_does_not_answer_the_batch_is_a_chain_error(
    node: Callable[[Answer], str], answer: Answer, message: str
) -> None:
    with pytest.raises(ChainError, match=re.escape(message)):
        HttpJsonRpc(node(answer)).batch([("echo", [1])])


def test_a_node_that_is_not_there_is_unavailable() -> None:
    with pytest.raises(ChainUnavailableError):
        HttpJsonRpc("http://127.0.0.1:9", timeout=2).batch([("eth_blockNumber", [])])
