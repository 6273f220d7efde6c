"""The JSON-RPC 2.0 envelope and the JSON pre-check: any body becomes requests or a documented
error, and nothing nested deeper than the bound ever reaches the JSON parser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import RpcInvalidRequestError, RpcParseError
from ledger.rpc.envelope import MAX_BODY_BYTES, Refused, Request, parse_body

json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


def test_a_body_nested_deeper_than_any_request_is_refused_before_parsing() -> None:
    # With py-evm imported the recursion limit is 100,000: json.loads of this would overflow
    # the C stack. The scan (ledger.jsonguard, tested there) answers first, quickly.
    with pytest.raises(RpcParseError, match="deeper than 10"):
        parse_body(b"[" * 2_000_000 + b"]" * 2_000_000)


def test_a_body_over_the_size_limit_is_refused_unread() -> None:
    with pytest.raises(RpcParseError, match="more than"):
        parse_body(b" " * (MAX_BODY_BYTES + 1))


def test_utf16_is_not_json_here() -> None:
    # json.loads(bytes) would read UTF-16 and see another document than the scanner did.
    with pytest.raises(RpcParseError):
        parse_body('{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'.encode("utf-16"))


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_give_a_documented_error(raw: bytes) -> None:
    try:
        parse_body(raw)
    except (RpcParseError, RpcInvalidRequestError) as exc:
        assert exc.message.startswith(("parse error", "invalid request"))


@given(json_documents)
def test_any_json_gives_entries_or_a_documented_error(document: Any) -> None:
    try:
        body = parse_body(json.dumps(document).encode())
    except (RpcParseError, RpcInvalidRequestError):
        return
    for entry in body.entries:
        assert isinstance(entry, Request | Refused)


def request(**fields: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": "eth_chainId", **fields}).encode()


def with_id(**fields: Any) -> bytes:
    return request(**{"id": 1, **fields})


def test_requests_notifications_and_invalid_objects() -> None:
    body = parse_body(request(id=7, params=[]))
    assert body.entries == (Request("eth_chainId", [], 7),) and not body.batch
    notification = parse_body(request()).entries[0]
    assert isinstance(notification, Request) and notification.notification
    bad = {
        "method": ["x"],
        "params": 5,
        "jsonrpc": "1.0",
        "id": {"a": 1},
    }
    for key, value in bad.items():
        (entry,) = parse_body(with_id(**{key: value})).entries
        assert isinstance(entry, Refused), key
        assert entry.error.rpc_code == -32600
    assert isinstance(parse_body(b"[1]").entries[0], Refused)


def test_body_level_errors() -> None:
    with pytest.raises(RpcParseError):
        parse_body(b"{nope")
    with pytest.raises(RpcParseError):
        parse_body(b'{"id": NaN}')
    with pytest.raises(RpcInvalidRequestError, match="1 to 100"):
        parse_body(b"[]")
    with pytest.raises(RpcInvalidRequestError, match="1 to 100"):
        parse_body(json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "x"}] * 101).encode())
    with pytest.raises(RpcInvalidRequestError):
        parse_body(b"5")
    (entry,) = parse_body(b"{}").entries  # an object, but not a request: answered, id null
    assert isinstance(entry, Refused) and entry.error.rpc_code == -32600 and entry.id is None
