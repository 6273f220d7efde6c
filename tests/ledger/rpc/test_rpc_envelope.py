"""The JSON-RPC 2.0 envelope and the JSON pre-check: any body becomes requests or a documented
error, and nothing nested deeper than the bound ever reaches the JSON parser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import JsonLimitError, RpcInvalidRequestError, RpcParseError
from ledger.rpc.envelope import MAX_BODY_BYTES, Refused, Request, parse_body
from ledger.rpc.json_bounds import check_json_bounds

json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)
# Strings full of the characters a naive bracket counter trips on.
tricky_text = st.text(alphabet='[]{}"\\ab', max_size=20)
tricky_documents = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3)
    ),
    max_leaves=25,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(tricky_documents, st.integers(min_value=1, max_value=8))
def test_the_depth_check_agrees_with_the_real_depth(document: Any, limit: int) -> None:
    raw = json.dumps(document).encode()
    if depth(document) <= limit:
        check_json_bounds(raw, max_bytes=len(raw), max_depth=limit)
    else:
        with pytest.raises(JsonLimitError):
            check_json_bounds(raw, max_bytes=len(raw), max_depth=limit)


def test_the_depth_check_refuses_what_would_crash_the_parser() -> None:
    # With py-evm imported the recursion limit is 100,000: json.loads of this would overflow
    # the C stack. The check answers first, quickly.
    with pytest.raises(JsonLimitError, match="nested more than 10"):
        check_json_bounds(b"[" * 2_000_000, max_bytes=MAX_BODY_BYTES, max_depth=10)
    with pytest.raises(JsonLimitError, match="bytes"):
        check_json_bounds(b" " * 11, max_bytes=10, max_depth=10)


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
