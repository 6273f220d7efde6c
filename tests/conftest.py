"""Shared fixtures: one chain per session, deployed once, each test isolated by a snapshot.

The chain is py-evm in process (eth-tester, ``PyEVMBackend``) unless ``--chain=anvil`` (or
``PROVLEDGER_TEST_CHAIN=anvil``) asks for a real anvil node over JSON-RPC. The same tests run
on both; the README's test command runs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger

DEPT_A = 1
DEPT_B = 2
DEPT_C = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chain",
        choices=("eth-tester", "anvil"),
        default=os.environ.get("PROVLEDGER_TEST_CHAIN", "eth-tester"),
        help="chain for contract tests: in-process eth-tester (default) or a real anvil node",
    )


def _key(name: str) -> LocalAccount:
    # Deterministic keys make failures reproducible; they hold nothing outside a test chain.
    return Account.from_key(keccak(text=f"provledger-test:{name}"))


@dataclass(frozen=True)
class Actors:
    """Everyone who acts in the tests, by role."""

    governance: LocalAccount
    relayer: LocalAccount
    dept_a: LocalAccount
    dept_b: LocalAccount
    dept_c: LocalAccount
    outsider: LocalAccount


@pytest.fixture(scope="session")
def chain(request: pytest.FixtureRequest) -> Iterator[Chain]:
    if request.config.getoption("--chain") == "anvil":
        from ledger.chain.anvil import AnvilNode

        with AnvilNode() as node:
            yield Chain.rpc(node.url, expected_chain_id=node.chain_id)
    else:
        yield Chain.eth_tester()


@pytest.fixture(scope="session")
def actors(chain: Chain) -> Actors:
    people = Actors(*(_key(name) for name in ("governance", "relayer", "a", "b", "c", "outsider")))
    for person in vars(people).values():
        chain.fund(person.address, 10**21)
    return people


@pytest.fixture(scope="session")
def _deployed(chain: Chain, actors: Actors) -> Ledger:
    ledger = Ledger.deploy(chain, actors.governance)
    gov = actors.governance
    ledger.departments.enrol_department(
        DEPT_A, "Department of Health", actors.dept_a.address, sender=gov
    )
    ledger.departments.enrol_department(
        DEPT_B, "Department for Transport", actors.dept_b.address, sender=gov
    )
    ledger.departments.enrol_department(
        DEPT_C, "Office for Statistics", actors.dept_c.address, sender=gov
    )
    return ledger


@pytest.fixture
def ledger(chain: Chain, _deployed: Ledger) -> Iterator[Ledger]:
    """The deployed ledger with departments A, B and C enrolled; changes vanish after the test."""
    snapshot = chain.snapshot()
    try:
        yield _deployed
    finally:
        chain.revert(snapshot)


@pytest.fixture
def deadline(chain: Chain) -> int:
    """A signature deadline an hour after the latest block."""
    return chain.block_time() + 3600


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto's, in its own process) on a loopback port: its URL."""
    from moto_s3 import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's standard variables set to the test server's credentials (and no others)."""
    from moto_s3 import TEST_ENV

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
