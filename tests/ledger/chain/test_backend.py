"""The chain boundary: chain ids are checked, failures are translated, deployments round-trip."""

from __future__ import annotations

import json

import pytest

from ledger.chain.anvil import free_port
from ledger.chain.backend import Chain
from ledger.chain.deploy import Deployment, Ledger
from ledger.errors import (
    ChainMismatchError,
    ChainUnavailableError,
    DeploymentTooOldError,
    InvalidInputError,
)


def test_an_unreachable_rpc_endpoint_is_reported_as_unavailable() -> None:
    with pytest.raises(ChainUnavailableError):
        Chain.rpc(f"http://127.0.0.1:{free_port()}", timeout=2)


def test_connecting_to_an_unexpected_chain_id_is_refused(chain: Chain) -> None:
    if chain.is_in_process:
        with pytest.raises(
            ChainMismatchError, match=f"expected chain id 1, the node reports {chain.chain_id}"
        ):
            Chain(chain.w3, expected_chain_id=1)
    else:
        url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
        with pytest.raises(ChainMismatchError):
            Chain.rpc(url, expected_chain_id=chain.chain_id + 1)


def test_a_deployment_record_round_trips_through_json(ledger: Ledger) -> None:
    record = Deployment.from_json(ledger.deployment.to_json())
    assert record.dataset_registry == ledger.deployment.dataset_registry
    assert record.chain_id == ledger.chain.chain_id
    assert record.start_block == ledger.deployment.start_block


@pytest.mark.parametrize("text", ["", "[]", '{"chain_id": 1}', '{"chain_id": "x"}'])
def test_a_malformed_deployment_record_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInputError):
        Deployment.from_json(text)


def test_a_deployment_for_another_chain_is_refused(ledger: Ledger) -> None:
    other = Deployment.from_json(
        ledger.deployment.to_json().replace(f'"chain_id": {ledger.chain.chain_id}', '"chain_id": 5')
    )
    with pytest.raises(ChainMismatchError):
        Ledger(ledger.chain, other)


def test_snapshots_undo_everything_after_them(chain: Chain, ledger: Ledger) -> None:
    before = chain.w3.eth.block_number
    snapshot = chain.snapshot()
    chain.advance_time(100)
    assert chain.w3.eth.block_number > before
    chain.revert(snapshot)
    assert chain.w3.eth.block_number == before


@pytest.mark.parametrize("seconds", [1, 2, 10, 3600])
def test_advance_time_mines_a_block_exactly_that_many_seconds_later(
    chain: Chain, ledger: Ledger, seconds: int
) -> None:
    before = chain.block_time()
    chain.advance_time(seconds)
    assert chain.block_time() == before + seconds


@pytest.mark.parametrize("seconds", [0, -5])
def test_time_never_moves_backwards_or_stands_still(
    chain: Chain, ledger: Ledger, seconds: int
) -> None:
    with pytest.raises(InvalidInputError, match="seconds must be >= 1"):
        chain.advance_time(seconds)


def test_head_names_the_latest_block_and_moves_with_it(ledger: Ledger) -> None:
    chain = ledger.chain  # through `ledger`: the block mined here is undone after the test
    number, block_hash = chain.head()
    latest = chain.w3.eth.get_block("latest")
    assert (number, block_hash) == (latest["number"], latest["hash"].to_0x_hex())
    sender, receiver = chain.w3.eth.accounts[:2]
    chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_transaction({"from": sender, "to": receiver, "value": 1})
    )
    later_number, later_hash = chain.head()
    assert later_number == number + 1 and later_hash != block_hash


def test_a_new_deployment_records_its_key_directory(ledger: Ledger) -> None:
    record = Deployment.from_json(ledger.deployment.to_json())
    assert record.key_directory == ledger.deployment.key_directory == ledger.keys.address


def test_a_record_from_before_the_key_directory_still_loads_and_says_what_it_lacks(
    ledger: Ledger,
) -> None:
    document = json.loads(ledger.deployment.to_json())
    del document["key_directory"]
    older = Deployment.from_json(json.dumps(document, indent=2))

    assert older.key_directory is None
    assert older.to_json() == json.dumps(document, indent=2)  # written back unchanged
    old_ledger = Ledger(ledger.chain, older)
    assert old_ledger.datasets.address == ledger.datasets.address  # everything else serves
    with pytest.raises(DeploymentTooOldError, match="predates the key directory"):
        old_ledger.keys  # noqa: B018 - the property access is what is refused


def test_a_key_directory_address_that_is_not_text_is_rejected(ledger: Ledger) -> None:
    document = json.loads(ledger.deployment.to_json())
    document["key_directory"] = 5
    with pytest.raises(InvalidInputError):
        Deployment.from_json(json.dumps(document))
