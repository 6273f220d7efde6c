"""Parameter parsing of /rpc: round trips, the rejects the spec and geth agree on, and (as a
property) that nothing but the documented error ever comes out, whatever JSON goes in."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import RpcInvalidParamsError, RpcMethodNotFoundError
from ledger.rpc.call_params import AccessListEntry, CallRequest, parse_call_request
from ledger.rpc.filter_params import LogFilter, parse_log_filter
from ledger.rpc.methods import METHODS, parse_call, refusal
from ledger.rpc.params import (
    BLOCK_TAGS,
    BlockRef,
    parse_address,
    parse_block_id,
    parse_block_number_or_tag,
    parse_data,
    parse_quantity,
    parse_storage_key,
)

W = "test"

# Any JSON value, nested a little.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
    | st.sampled_from(["0x", "0x0", "0x00", "0x1", "latest", "pending", "0x" + "ab" * 20]),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(
        st.sampled_from(
            ["from", "to", "gas", "data", "input", "address", "topics", "fromBlock", "toBlock",
             "blockHash", "blockNumber", "requireCanonical", "value", "accessList", "x"]
        ),
        children,
        max_size=5,
    ),
    max_leaves=20,
)  # fmt: skip

hex_upper = st.booleans()


@given(st.integers(min_value=0, max_value=2**256 - 1), hex_upper)
def test_quantities_round_trip(number: int, upper: bool) -> None:
    text = hex(number)
    if upper:
        text = "0x" + text[2:].upper()
    assert parse_quantity(text, W) == number


@given(st.integers(min_value=1, max_value=2**200))
def test_quantities_with_leading_zeros_are_refused(number: int) -> None:
    with pytest.raises(RpcInvalidParamsError, match="leading zero"):
        parse_quantity("0x0" + hex(number)[2:], W)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0x", "no digits"),
        ("0x00", "leading zero"),
        ("12", "without 0x prefix"),
        ("0xg1", "invalid hex"),
        (12, "got a number"),
        (None, "got null"),
        ("0x1" + "0" * 64, "> 256 bits"),
    ],
)
def test_malformed_quantities_name_the_problem(value: Any, problem: str) -> None:
    with pytest.raises(RpcInvalidParamsError, match=problem) as caught:
        parse_quantity(value, "eth_getBalance param 1 (block)")
    assert "eth_getBalance param 1 (block)" in caught.value.message


def test_block_numbers_are_bounded_to_64_bits() -> None:
    assert parse_block_number_or_tag(hex(2**64 - 1), W).number == 2**64 - 1
    with pytest.raises(RpcInvalidParamsError, match="> 64 bits"):
        parse_block_number_or_tag(hex(2**64), W)


@given(st.binary(max_size=200))
def test_data_round_trips(raw: bytes) -> None:
    assert parse_data("0x" + raw.hex(), W) == raw
    assert parse_data("0x" + raw.hex().upper(), W) == raw


def test_odd_data_and_wrong_address_lengths_are_refused() -> None:
    with pytest.raises(RpcInvalidParamsError, match="odd length"):
        parse_data("0xabc", W)
    with pytest.raises(RpcInvalidParamsError, match="20 bytes"):
        parse_address("0x" + "ab" * 19, W)
    assert parse_address("0x" + "Ab" * 20, W) == bytes.fromhex("ab" * 20)


block_refs = st.one_of(
    st.sampled_from(sorted(BLOCK_TAGS)).map(lambda tag: BlockRef(tag=tag)),  # type: ignore[arg-type]
    st.integers(min_value=0, max_value=2**64 - 1).map(lambda n: BlockRef(number=n)),
    st.builds(
        lambda h, c: BlockRef(hash=h, require_canonical=c),
        st.binary(min_size=32, max_size=32),
        st.booleans(),
    ),
)


@given(block_refs)
def test_block_ids_round_trip(ref: BlockRef) -> None:
    assert parse_block_id(ref.to_wire(), W) == ref


def test_eip1898_objects() -> None:
    h = "0x" + "11" * 32
    assert parse_block_id({"blockHash": h}, W) == BlockRef(hash=bytes.fromhex("11" * 32))
    assert parse_block_id({"blockNumber": "0x5"}, W) == BlockRef(number=5)
    for bad in ({}, {"blockHash": h, "blockNumber": "0x1"}, {"blockNumber": "0x1", "x": 1}):
        with pytest.raises(RpcInvalidParamsError):
            parse_block_id(bad, W)


def test_storage_keys_take_leading_zeros_and_echo_like_geth() -> None:
    assert parse_storage_key("0x00", W).echo == "0x0"
    assert parse_storage_key("0x" + "00" * 31 + "05", W).echo == "0x" + "00" * 31 + "05"
    with pytest.raises(RpcInvalidParamsError, match="too long"):
        parse_storage_key("0x" + "0" * 65, W)
    with pytest.raises(RpcInvalidParamsError, match="invalid hex"):
        parse_storage_key("0xasdf", W)


addresses = st.binary(min_size=20, max_size=20)
hashes = st.binary(min_size=32, max_size=32)
maybe = st.none() | st.integers(min_value=0, max_value=2**64 - 1)

call_requests = st.builds(
    CallRequest,
    sender=st.none() | addresses,
    to=st.none() | addresses,
    gas=maybe,
    value=st.none() | st.integers(min_value=0, max_value=2**256 - 1),
    data=st.none() | st.binary(max_size=64),
    nonce=maybe,
    chain_id=maybe,
    access_list=st.none()
    | st.lists(
        st.builds(AccessListEntry, addresses, st.lists(hashes, max_size=3).map(tuple)),
        max_size=3,
    ).map(tuple),
)


@given(call_requests, st.sampled_from(["legacy", "1559", "none"]))
def test_call_objects_round_trip(request: CallRequest, fees: str) -> None:
    if fees == "legacy":
        request = CallRequest(**{**_fields(request), "gas_price": 7})
    elif fees == "1559":
        request = CallRequest(
            **{**_fields(request), "max_fee_per_gas": 9, "max_priority_fee_per_gas": 2}
        )
    assert parse_call_request(request.to_wire(), W) == request


def _fields(request: CallRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in CallRequest.__slots__}


def test_call_object_rules_follow_geth() -> None:
    with pytest.raises(RpcInvalidParamsError, match='"data" and "input"'):
        parse_call_request({"data": "0x01", "input": "0x02"}, W)
    assert parse_call_request({"data": "0x01", "input": "0x01"}, W).data == b"\x01"
    assert parse_call_request({"input": "0x02"}, W).data == b"\x02"
    with pytest.raises(RpcInvalidParamsError, match="both gasPrice"):
        parse_call_request({"gasPrice": "0x1", "maxFeePerGas": "0x1"}, W)
    with pytest.raises(RpcInvalidParamsError, match="greater than maxFeePerGas"):
        parse_call_request({"maxFeePerGas": "0x1", "maxPriorityFeePerGas": "0x2"}, W)
    with pytest.raises(RpcInvalidParamsError, match="unknown field 'a'"):
        parse_call_request({"a": 1}, W)
    with pytest.raises(RpcInvalidParamsError, match="blob sidecars"):
        parse_call_request({"blobs": []}, W)
    assert parse_call_request({}, W) == CallRequest()


log_filters = st.builds(
    LogFilter,
    from_block=st.integers(0, 100).map(lambda n: BlockRef(number=n)),
    to_block=st.integers(100, 200).map(lambda n: BlockRef(number=n)),
    addresses=st.lists(addresses, max_size=3).map(tuple),
    topics=st.lists(st.none() | st.lists(hashes, min_size=1, max_size=3).map(tuple), max_size=4)
    .map(tuple)
    .filter(lambda topics: not topics or topics[-1] is not None),
)


@given(log_filters)
def test_log_filters_round_trip(log_filter: LogFilter) -> None:
    assert parse_log_filter(log_filter.to_wire(), W) == log_filter


def test_filters_take_an_address_string_or_list_and_topic_or_lists_with_nulls() -> None:
    a, t = "0x" + "aa" * 20, "0x" + "bb" * 32
    assert parse_log_filter({"address": a}, W).addresses == (bytes.fromhex("aa" * 20),)
    assert parse_log_filter({"address": [a, a]}, W).addresses == (bytes.fromhex("aa" * 20),) * 2
    assert parse_log_filter({"address": []}, W).addresses == ()
    parsed = parse_log_filter({"topics": [None, [t, None], [t], t, None][:4]}, W)
    assert parsed.topics == (None, None, (bytes.fromhex("bb" * 32),), (bytes.fromhex("bb" * 32),))
    assert parse_log_filter({"topics": [[], None]}, W).topics == ()
    with pytest.raises(RpcInvalidParamsError, match="at most 4 topic positions"):
        parse_log_filter({"topics": [None] * 5}, W)
    with pytest.raises(RpcInvalidParamsError, match="blockHash excludes"):
        parse_log_filter({"blockHash": "0x" + "00" * 32, "fromBlock": "0x1"}, W)
    with pytest.raises(RpcInvalidParamsError, match="invalid block range"):
        parse_log_filter({"fromBlock": "0x5", "toBlock": "0x1"}, W)
    with pytest.raises(RpcInvalidParamsError, match="pending"):
        parse_log_filter({"fromBlock": "pending"}, W)


def test_matching_follows_geth() -> None:
    t1, t2 = b"\x01" * 32, b"\x02" * 32
    wanted = LogFilter(topics=(None, (t2,)))
    assert wanted.matches(b"\x00" * 20, (t1, t2))
    assert not wanted.matches(b"\x00" * 20, (t1,))  # fewer topics than positions
    assert not LogFilter(addresses=(b"\x01" * 20,)).matches(b"\x00" * 20, ())


def test_methods_take_positional_params_with_optional_trailing_blocks() -> None:
    a = "0x" + "aa" * 20
    assert parse_call("eth_getBalance", [a]).args[1] == BlockRef(tag="latest")
    assert parse_call("eth_getBalance", [a, None]).args[1] == BlockRef(tag="latest")
    with pytest.raises(RpcInvalidParamsError, match="param 0 \\(address\\) is missing"):
        parse_call("eth_getBalance", [])
    with pytest.raises(RpcInvalidParamsError, match="at most 2 params"):
        parse_call("eth_getBalance", [a, "latest", {}])
    with pytest.raises(RpcInvalidParamsError, match="as an array"):
        parse_call("eth_call", {"a": 1})
    with pytest.raises(RpcInvalidParamsError, match="param 0 \\(transaction\\)"):
        parse_call("eth_call", [5])


def test_refusals_say_why() -> None:
    assert "read-only" in refusal("eth_sendRawTransaction").message
    assert "mining" in refusal("anvil_mine").message
    assert "debugging" in refusal("debug_traceTransaction").message
    assert "eth_getLogs" in refusal("eth_newFilter").message
    # A method name that is not a name is not echoed back.
    assert "<" not in refusal("<script>").message


@given(st.sampled_from(sorted(METHODS)), st.lists(json_values, max_size=4) | json_values)
def test_any_params_give_the_documented_error_or_a_call(method: str, params: Any) -> None:
    if not isinstance(params, list | dict) and params is not None:
        params = [params]
    try:
        call = parse_call(method, params)
    except RpcInvalidParamsError as exc:
        assert exc.message.startswith("invalid params: ")
        assert "Traceback" not in exc.message
    else:
        assert call.method == method


@given(st.text(max_size=40), json_values)
def test_any_method_name_gives_a_call_or_method_not_found(method: str, params: Any) -> None:
    with contextlib.suppress(RpcInvalidParamsError, RpcMethodNotFoundError):
        parse_call(method, params if isinstance(params, list) else None)
