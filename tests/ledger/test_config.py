"""Settings are read in one place; a part that needs a few of them receives them as one group."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from api.bodies import BodyLimits
from api.connections import ConnectionLimits
from ledger.config import Settings
from ledger.rpc import RpcLimits


def test_a_group_takes_each_field_from_the_setting_of_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVLEDGER_MAX_JSON_DEPTH", "17")
    monkeypatch.setenv("PROVLEDGER_HEADER_TIMEOUT", "2.5")
    settings = Settings()

    body = settings.group(BodyLimits)
    connections = settings.group(ConnectionLimits)

    assert body.max_json_depth == 17
    assert body.max_upload_bytes == settings.max_upload_bytes
    assert connections == ConnectionLimits(
        2.5, settings.body_idle_timeout, settings.max_connections
    )


def test_a_prefix_names_the_settings_and_fields_without_a_setting_keep_their_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVLEDGER_RPC_MAX_LOGS", "7")
    monkeypatch.setenv("PROVLEDGER_RPC_EVM_TIMEOUT", "1.5")

    limits = Settings().group(RpcLimits, prefix="rpc_")

    assert (limits.max_logs, limits.evm_timeout) == (7, 1.5)
    assert (limits.queue_wait, limits.max_batch) == (RpcLimits().queue_wait, RpcLimits().max_batch)


def test_a_group_is_any_dataclass() -> None:
    @dataclass(frozen=True)
    class Chain:
        confirmations: int
        rpc_url: str | None

    settings = Settings(confirmations=4)
    assert settings.group(Chain) == Chain(4, settings.rpc_url)


def test_reads_without_a_token_follow_rpc_access_unless_set() -> None:
    # What these reads show anonymously is what /rpc serves: open together by default.
    assert Settings(host="127.0.0.1").resolved_public_reads == "open"
    assert Settings(host="0.0.0.0").resolved_public_reads == "token"
    assert Settings(host="127.0.0.1", rpc_access="token").resolved_public_reads == "token"
    assert Settings(host="0.0.0.0", rpc_access="open").resolved_public_reads == "open"
    assert Settings(host="0.0.0.0", public_reads="open").resolved_public_reads == "open"
    assert Settings(host="127.0.0.1", public_reads="token").resolved_public_reads == "token"
