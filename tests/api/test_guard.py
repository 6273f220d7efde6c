"""The transport guard (api/guard.py): what a hostile client can make the service read, hold
and parse, checked at the ASGI boundary, where it is visible how many body bytes the service
pulled before it answered.

The attacks that crashed or bloated the real service (JSON nested 100,000 deep, hundreds of
megabytes streamed before authentication) run against a real server process in
``test_hostile_bodies_against_a_real_server``: a segfault there fails a test, not pytest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from hostile import Answer, alive, peak_rss, send_raw, send_streaming
from sqlmodel import Session, select

from api.app import create_app
from api.uploads import MAX_ENVELOPE_BYTES
from bench._service import enrol_department, serve
from ledger.relayer import Operation
from ledger.runtime import Runtime

MiB = 1 << 20
#: Small enough to test quickly, far apart enough to tell which limit answered.
LIMITS = {
    "max_json_bytes": 64 * 1024,
    "max_bulk_json_bytes": 512 * 1024,
    "max_rpc_json_bytes": 256 * 1024,
    "max_upload_bytes": MiB,
    "max_json_depth": 8,
}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The application under :data:`LIMITS` (conftest's fixtures build on this one here)."""
    runtime.settings = runtime.settings.model_copy(update=LIMITS)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


@dataclass
class Seen:
    """An answer at the ASGI boundary, and how many body bytes the application pulled."""

    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json", self.body
        return dict(json.loads(self.body))


def call(
    client: TestClient,
    method: str,
    path: str,
    chunks: Iterable[bytes | None] = (),
    *,
    headers: dict[str, str] | None = None,
    length: int | None = None,
) -> Seen:
    """``method path`` straight into the application, the body pulled chunk by chunk from
    ``chunks`` (declared ``length`` if given, else chunked; None: the client disconnects)."""
    framing = {"content-length": str(length)} if length is not None else {}
    if length is None and chunks != ():
        framing = {"transfer-encoding": "chunked"}
    raw_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in {**(headers or {}), **framing}.items()
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    source = iter(chunks)
    end = object()  # after the last chunk: an empty one, with more_body false
    upcoming: list[object] = [next(source, end)]
    seen = Seen(0, {}, b"", 0)
    body = bytearray()

    async def receive() -> dict[str, Any]:
        chunk = upcoming[0]
        if chunk is None:
            return {"type": "http.disconnect"}
        if not isinstance(chunk, bytes):
            return {"type": "http.request", "body": b"", "more_body": False}
        upcoming[0] = next(source, end)
        seen.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": upcoming[0] is not end}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen.status = message["status"]
            seen.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    seen.body = bytes(body)
    return seen


def endless(chunk: bytes = b"a" * 65536, total: int = 32 * MiB) -> Iterator[bytes]:
    """More body than any limit here (but not infinite: a service without limits reads it all
    and the test fails, rather than running out of memory)."""
    for _ in range(total // len(chunk)):
        yield chunk


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def outbox(runtime: Runtime) -> int:
    with Session(runtime.engine) as session:
        return len(session.exec(select(Operation.id)).all())


# --- authentication before the body ---------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "missing Authorization header: send 'Bearer <token>'"),
        ("Basic dXNlcjpwYXNz", "the Authorization header must be 'Bearer <token>'"),
        ("Bearer ", "the Authorization header must be 'Bearer <token>'"),
    ],
)
def test_a_route_that_needs_a_token_answers_401_before_reading_a_byte_of_the_body(
    client: TestClient, authorization: str | None, detail: str
) -> None:
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    seen = call(client, "POST", "/v1/departments/1/suspend", endless(), headers=headers)
    assert seen.status == 401 and seen.pulled == 0
    assert seen.headers["www-authenticate"] == "Bearer"
    assert seen.headers["connection"] == "close"  # the unread body is not drained
    assert seen.problem() == {
        "type": "urn:provledger:problem:unauthenticated",
        "title": "Authentication required",
        "status": 401,
        "code": "unauthenticated",
        "detail": detail,
    }
    # The very answer the token dependency gives a request it does see.
    given = {"Authorization": authorization} if authorization is not None else {}
    assert client.get("/v1/departments/1/nonces", headers=given).json() == seen.problem()


def test_public_routes_and_rpc_need_no_token(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 200, path
    answer = client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert answer.status_code == 200 and "result" in answer.json()


def test_a_public_read_bounds_an_anonymous_body_as_it_bounds_any_other(
    client: TestClient,
) -> None:
    json_type = {"content-type": "application/json"}
    declared = call(client, "POST", "/v1/verify", endless(), headers=json_type, length=10 * MiB)
    assert declared.status == 413 and declared.pulled == 0
    assert declared.problem()["code"] == "body-too-large"
    cut = call(client, "POST", "/v1/verify/batch", endless(b"a" * 10_000), headers=json_type)
    assert cut.status == 413 and 512 * 1024 < cut.pulled <= 512 * 1024 + 10_000
    deep = call(client, "POST", "/v1/verify", [nested(50).encode()], headers=json_type)
    assert deep.status == 422 and deep.problem()["code"] == "json-too-deep"


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=x", "application/octet-stream"]
)
def test_an_anonymous_upload_to_a_public_read_is_refused_before_a_byte_is_read(
    client: TestClient, content_type: str
) -> None:
    seen = call(client, "POST", "/v1/verify", endless(), headers={"content-type": content_type})
    assert seen.status == 401 and seen.pulled == 0
    assert seen.headers["connection"] == "close"
    assert seen.problem()["detail"].startswith("an upload needs a token")


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer ", ""])
def test_a_malformed_token_on_a_public_read_is_refused_before_the_body_is_read(
    client: TestClient, authorization: str
) -> None:
    headers = {"content-type": "application/json", "authorization": authorization}
    seen = call(client, "POST", "/v1/verify", endless(), headers=headers)
    assert seen.status == 401 and seen.pulled == 0


# --- sizes ------------------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_refused_at_once(
    client: TestClient, governance: dict[str, str]
) -> None:
    seen = call(
        client,
        "POST",
        "/v1/departments",
        endless(),
        headers={**governance, "content-type": "application/json"},
        length=10 * MiB,
    )
    assert seen.status == 413 and seen.pulled == 0
    problem = seen.problem()
    assert problem["code"] == "body-too-large"
    assert problem["detail"] == (
        f"the request body is {10 * MiB} bytes; this endpoint takes at most {64 * 1024}"
    )
    assert seen.headers["connection"] == "close"


def test_an_undeclared_body_is_cut_off_at_the_limit(
    client: TestClient, governance: dict[str, str]
) -> None:
    seen = call(
        client,
        "POST",
        "/v1/departments",
        endless(b"a" * 10_000),
        headers={**governance, "content-type": "application/json"},
    )
    assert seen.status == 413 and seen.problem()["code"] == "body-too-large"
    assert 64 * 1024 < seen.pulled <= 64 * 1024 + 10_000
    assert seen.headers["connection"] == "close"


def test_each_kind_of_route_has_its_own_limit(
    client: TestClient, governance: dict[str, str], departments: dict[str, dict[str, str]]
) -> None:
    def status(path: str, size: int, headers: dict[str, str], **fields: Any) -> int:
        pad = "a" * (size - len(json.dumps({**fields, "pad": ""})))
        body = json.dumps({**fields, "pad": pad}).encode()
        assert len(body) == size
        seen = call(
            client, "POST", path, [body], headers={**headers, "content-type": "application/json"}
        )
        return seen.status

    as_a = departments["a"]
    # Not 413: the route's own validation refuses the padding field.
    assert status("/v1/departments", 60_000, governance) == 422
    assert status("/v1/departments", 70_000, governance) == 413
    assert status("/v1/datasets/batch", 500_000, as_a, records=[]) == 422
    assert status("/v1/datasets/batch", 530_000, as_a, records=[]) == 413
    assert status("/v1/datasets", 70_000, as_a) == 413  # JSON to an upload route is JSON
    assert status("/rpc", 250_000, {}, jsonrpc="2.0", id=1, method="eth_chainId") == 200
    assert status("/rpc", 270_000, {}, jsonrpc="2.0", id=1, method="eth_chainId") == 413


# --- JSON depth and garbage ---------------------------------------------------------------------


def test_json_nested_deeper_than_the_limit_is_refused_before_any_parser(
    client: TestClient, governance: dict[str, str], departments: dict[str, dict[str, str]]
) -> None:
    # (path, headers, text before and after a nested value, levels they open)
    cases = [
        ("/v1/departments", governance, '{"department_id": 7, "name": "x", "extra": ', "}", 1),
        ("/v1/datasets", departments["a"], '{"content_hash": "0x", "metadata": ', "}", 1),
        ("/v1/verify", governance, '{"content_hash": ', "}", 1),
        ("/v1/datasets/batch", departments["a"], '{"records": [', "]}", 2),
    ]
    for path, headers, before, after, opened in cases:
        # 8 levels deep in all is what the route sees and answers as it would; 9 is refused.
        for depth, refused in ((8, False), (9, True)):
            body = (before + nested(depth - opened) + after).encode()
            assert json.loads(body) is not None
            seen = call(
                client,
                "POST",
                path,
                [body],
                headers={**headers, "content-type": "application/json"},
            )
            too_deep = seen.status == 422 and json.loads(seen.body).get("code") == "json-too-deep"
            assert too_deep is refused, (path, depth, seen.status, seen.body)
    # The bulk endpoint parses whatever the content type; the scan follows it.
    seen = call(
        client,
        "POST",
        "/v1/datasets/batch",
        [nested(100).encode()],
        headers={**departments["a"], "content-type": "x/y"},
    )
    assert seen.status == 422 and seen.problem()["detail"] == "JSON nests deeper than 8 levels"


@pytest.mark.parametrize("content_type", ["application/json", "x/y"])
def test_json_rpc_answers_json_too_deep_in_its_own_protocol(
    client: TestClient, content_type: str
) -> None:
    # /rpc scans its body itself (the same scan) and answers as JSON-RPC clients expect.
    answer = client.post("/rpc", content=nested(100), headers={"content-type": content_type})
    assert answer.status_code == 200
    error = answer.json()["error"]
    assert error["code"] == -32700 and "nests deeper than" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"department_id": 7, "name": "\xff"}',
        b'\x00{\x00"\x00d\x00"\x00:\x007\x00}',  # UTF-16: json.loads would take it
        b'{"department_id": 7, "name": "x"',
    ],
)
def test_bytes_that_are_not_json_get_400_and_reach_no_parser(
    client: TestClient, governance: dict[str, str], body: bytes
) -> None:
    seen = call(
        client,
        "POST",
        "/v1/departments",
        [body],
        headers={**governance, "content-type": "application/json"},
    )
    assert seen.status == 400 and seen.problem()["code"] == "invalid-json"
    assert seen.problem()["detail"].startswith("not JSON: ")


@pytest.mark.parametrize("body", [b"{nope", b"\xef\xbb\xbf" + nested(100).encode(), b"\x00[\x00["])
def test_json_rpc_answers_bytes_that_are_not_json_with_its_own_parse_error(
    client: TestClient, body: bytes
) -> None:
    answer = client.post("/rpc", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200
    answer_body = answer.json()
    assert answer_body["id"] is None and answer_body["error"]["code"] == -32700
    assert answer_body["error"]["message"].startswith("parse error: not JSON")


def test_a_body_no_route_parses_as_json_is_bounded_but_not_scanned(
    client: TestClient, governance: dict[str, str]
) -> None:
    # FastAPI parses only JSON content types (strict): this one is the route's to refuse.
    answer = client.post(
        "/v1/departments", content=nested(100), headers={**governance, "content-type": "text/plain"}
    )
    assert answer.status_code == 422 and answer.json()["code"] == "invalid-request"
    too_big = call(
        client, "POST", "/v1/departments", endless(), headers={**governance, "content-type": "x/y"}
    )
    assert too_big.status == 413 and too_big.pulled <= 64 * 1024 + 65536


# --- uploads ------------------------------------------------------------------------------------


def multipart(
    file: bytes, fields: dict[str, str] | None = None, *, boundary: str = "b0undary"
) -> tuple[str, bytes]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in (fields or {}).items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + file
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def upload_routes(client: TestClient, department: dict[str, str]) -> dict[str, str]:
    """The three routes that take uploads, the dataset for add-version registered first."""
    created = client.post(
        "/v1/datasets",
        json={"content_hash": "0x" + os.urandom(32).hex(), "metadata": {"title": "t"}},
        headers=department,
    )
    assert created.status_code == 202, created.text
    dataset = created.json()["resource"]["dataset_id"]
    return {
        "register": "/v1/datasets",
        "add-version": f"/v1/datasets/{dataset}/versions",
        "verify": "/v1/verify",
    }


def test_uploads_stream_past_the_json_limit_up_to_the_upload_limit(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    as_a = departments["a"]
    for name, path in upload_routes(client, as_a).items():
        fields = {"metadata": '{"title": "t"}'} if name == "register" else {}
        content_type, body = multipart(os.urandom(MiB), fields)  # 16x the JSON limit
        pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
        seen = call(client, "POST", path, pieces, headers={**as_a, "content-type": content_type})
        assert seen.status in (200, 202), (name, seen.body)
        assert "connection" not in seen.headers

        content_type, body = multipart(os.urandom(MiB + 1), fields)
        refused = call(client, "POST", path, [body], headers={**as_a, "content-type": content_type})
        assert refused.status == 413 and refused.problem()["code"] == "upload-too-large"


def test_an_upload_over_the_limit_is_refused_at_once_or_cut_off_while_it_streams(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    headers = {**departments["a"], "content-type": "application/octet-stream"}
    cap = MiB + MAX_ENVELOPE_BYTES
    declared = call(client, "POST", "/v1/verify", endless(), headers=headers, length=cap + 1)
    assert declared.status == 413 and declared.pulled == 0
    assert declared.problem()["code"] == "upload-too-large"
    streamed = call(client, "POST", "/v1/verify", endless(), headers=headers)
    assert streamed.status == 413 and streamed.problem()["code"] == "upload-too-large"
    assert streamed.pulled <= cap + 65536
    assert streamed.headers["connection"] == "close"


def test_an_upload_whose_client_leaves_midway_is_incomplete_not_a_server_error(
    client: TestClient, departments: dict[str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**departments["a"], "content-type": "application/octet-stream"}
    seen = call(client, "POST", "/v1/verify", [b"a" * 1000, None], headers=headers)
    assert seen.status == 422 and seen.problem()["code"] == "upload-incomplete"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize("route", ["register", "add-version", "verify"])
def test_a_multipart_upload_cut_off_inside_the_file_registers_and_verifies_nothing(
    client: TestClient, departments: dict[str, dict[str, str]], runtime: Runtime, route: str
) -> None:
    as_a = departments["a"]
    path = upload_routes(client, as_a)[route]
    fields = {"metadata": '{"title": "t"}'} if route == "register" else {}
    content_type, whole = multipart(b"ward,beds\n" * 1000, fields)
    truncated = whole[: whole.index(b"\r\n--b0undary--") - 10]  # inside the file part
    before = outbox(runtime)
    answer = client.post(path, content=truncated, headers={**as_a, "content-type": content_type})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "upload-incomplete"
    assert outbox(runtime) == before
    # The same body with its closing boundary is accepted.
    answer = client.post(path, content=whole, headers={**as_a, "content-type": content_type})
    assert answer.status_code in (200, 202), answer.text


def test_json_form_fields_are_bounded_in_depth_like_json_bodies(
    client: TestClient, departments: dict[str, dict[str, str]]
) -> None:
    content_type, body = multipart(b"x", {"metadata": nested(9, '{"title": "t"}')})
    answer = client.post(
        "/v1/datasets", content=body, headers={**departments["a"], "content-type": content_type}
    )
    assert answer.status_code == 422 and answer.json()["code"] == "json-too-deep"


@pytest.mark.parametrize(
    ("body", "content_type", "detail"),
    [
        (b"--x\r\nnot a header\r\n\r\n", "multipart/form-data; boundary=x", "malformed"),
        (b"", "multipart/form-data; boundary=" + "x" * 1000, "malformed"),
        (
            b"".join(
                f'--x\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n'.encode()
                for i in range(20)
            ),
            "multipart/form-data; boundary=x",
            "over 16 parts",
        ),
    ],
)
def test_malformed_multipart_bodies_are_problems_not_server_errors(
    client: TestClient, governance: dict[str, str], body: bytes, content_type: str, detail: str
) -> None:
    answer = client.post(
        "/v1/verify", content=body, headers={**governance, "content-type": content_type}
    )
    assert answer.status_code == 422, answer.text
    assert detail in answer.json()["detail"]


# --- against a real server process --------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    base: str
    pid: int
    governance: dict[str, str]
    department: dict[str, str]


@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``python -m api serve`` on its own embedded chain, default limits."""
    if request.config.getoption("--chain") == "anvil":
        pytest.skip("the server runs its own embedded chain; the default pass covers it")
    data_dir = tmp_path_factory.mktemp("hostile") / "data"
    with serve(data_dir, {}) as (base, pid):
        governance = (data_dir / "governance.token").read_text().strip()
        department = enrol_department(base, data_dir, department_id=1)
        yield Served(
            base,
            pid,
            {"Authorization": f"Bearer {governance}"},
            {"Authorization": f"Bearer {department}"},
        )


def healthy(served: Served) -> bool:
    return alive(served.pid) and httpx2.get(f"{served.base}/healthz", timeout=10).status_code == 200


def post_raw(served: Served, path: str, body: bytes, headers: dict[str, str]) -> Answer:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    return send_raw(served.base, head.encode() + b"\r\n" + body)


@pytest.mark.slow
def test_json_nested_100000_deep_gets_a_4xx_and_the_service_lives_on(served: Served) -> None:
    deep = nested(100_000).encode()
    json_type = {"Content-Type": "application/json"}
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        ("/v1/departments/1/suspend", deep, json_type, 401, "unauthenticated"),
        ("/v1/departments", deep, {**json_type, **served.governance}, 422, "json-too-deep"),
    ]
    # A form field is at most 64 KiB: 100,000 deep is refused for its size, 30,000 for its depth.
    for depth, code in ((100_000, "invalid-input"), (30_000, "json-too-deep")):
        content_type, form = multipart(b"x", {"metadata": nested(depth, '{"title": "t"}')})
        headers = {"Content-Type": content_type, **served.department}
        cases.append(("/v1/datasets", form, headers, 422, code))
    for path, body, headers, status, code in cases:
        answer = post_raw(served, path, body, headers)
        assert (answer.status, json.loads(answer.body)["code"]) == (status, code), path
        assert healthy(served), f"the service died on {path}"
    # JSON-RPC answers it in its own protocol.
    answer = post_raw(served, "/rpc", deep, json_type)
    assert answer.status == 200 and json.loads(answer.body)["error"]["code"] == -32700
    assert healthy(served), "the service died on /rpc"


@pytest.mark.slow
def test_300_mb_streamed_without_a_token_is_answered_401_in_constant_memory(
    served: Served,
) -> None:
    total = 300 * MiB
    with peak_rss(served.pid) as memory:
        answer = send_streaming(
            served.base,
            "/v1/departments/1/suspend",
            total=total,
            headers={"Content-Type": "application/json"},
            prefix=b'{"reason": "',
            suffix=b'"}',
        )
    assert answer.status == 401 and json.loads(answer.body)["code"] == "unauthenticated"
    assert answer.sent < 32 * MiB  # the answer came while the client was still sending
    assert memory["growth"] < 50 * MiB, memory
    assert healthy(served)


@pytest.mark.slow
def test_1_gb_of_json_to_verify_is_cut_off_at_the_limit_in_constant_memory(
    served: Served,
) -> None:
    with peak_rss(served.pid) as memory:
        answer = send_streaming(
            served.base,
            "/v1/verify",
            total=1024 * MiB,
            headers={"Content-Type": "application/json", **served.governance},
            prefix=b'{"content_hash": "',
            suffix=b'"}',
        )
    assert answer.status == 413 and json.loads(answer.body)["code"] == "body-too-large"
    assert "takes at most 1048576" in json.loads(answer.body)["detail"]
    assert answer.sent < 32 * MiB
    assert memory["growth"] < 50 * MiB, memory
    assert healthy(served)


@pytest.mark.slow
def test_a_200_mb_upload_is_hashed_as_it_streams_in_constant_memory(
    served: Served, tmp_path: Path
) -> None:
    boundary = "hostile-upload-boundary"
    prefix = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'
    ).encode()
    suffix = f"\r\n--{boundary}--\r\n".encode()
    total = 200 * MiB
    with peak_rss(served.pid) as memory:
        answer = send_streaming(
            served.base,
            "/v1/verify",
            total=total,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                **served.governance,
            },
            prefix=prefix,
            suffix=suffix,
        )
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["size"] == total - len(prefix) - len(suffix)
    assert memory["growth"] < 50 * MiB, memory


def test_the_refusals_are_answered_with_problem_documents(served: Served) -> None:
    answer = send_streaming(
        served.base,
        "/v1/departments/1/suspend",
        total=1000,
        headers={"Content-Type": "application/json", **served.governance},
        chunked=False,
        prefix=b"\xff",
    )
    assert answer.status == 400 and answer.headers["content-type"] == "application/problem+json"
    assert healthy(served)
