"""The embedded default: no configuration, everything in the data directory, and a restart
reuses all of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from ledger.config import Settings
from ledger.errors import ChainMismatchError, ConfigurationError
from ledger.relayer import enqueue
from ledger.runtime import Runtime


def _settings(data_dir: Path, **extra: object) -> Settings:
    return Settings(data_dir=data_dir, keystore_scrypt_n=16, **extra)  # type: ignore[arg-type]


def test_first_start_deploys_and_a_restart_reuses_chain_keys_and_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "provledger"
    first = Runtime.open(_settings(data_dir))
    deployment = first.ledger.deployment
    service = first.service_account.address
    with Session(first.engine) as session:
        enqueue(
            session,
            kind="departments.enrol",
            contract="DepartmentRegistry",
            function="enrolDepartment",
            args=[5, "Cabinet Office", "0x" + "55" * 20],
        )
        session.commit()
    for _ in range(3):
        first.relayer.tick()
    first.close()
    assert oct(data_dir.stat().st_mode & 0o777) == "0o700"
    assert (data_dir / "deployment.json").exists()

    second = Runtime.open(_settings(data_dir))
    try:
        assert second.ledger.deployment == deployment
        assert second.service_account.address == service
        assert second.ledger.departments.department(5).signer.lower() == "0x" + "55" * 20
    finally:
        second.close()


def test_an_external_chain_without_a_deployment_record_is_refused(tmp_path: Path) -> None:
    from ledger.chain.anvil import AnvilNode

    with AnvilNode() as node:
        with pytest.raises(ConfigurationError, match="provledger deploy"):
            Runtime.open(_settings(tmp_path, rpc_url=node.url))
        with pytest.raises(ChainMismatchError):
            Runtime.open(
                _settings(tmp_path / "other", rpc_url=node.url, chain_id=node.chain_id + 1)
            )
