"""``provledger access prove`` and ``check-proof`` against a live service's chain (its /rpc):
held while granted, not held before the approval or after the revocation, a bundle with the
revocation cut out refused by name, and bad input refused before anything is asked."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_harness import Department, Invoke, Service, answer_of, registered

EXIT_NO, EXIT_USAGE = 1, 2


@pytest.fixture(scope="module")
def granted(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Department, Department, str, str]:
    """Health's dataset, Transport's request for it, approved for an hour."""
    health, transport = enrol("Health"), enrol("Transport")
    path = tmp_path_factory.mktemp("proofs") / "admissions.csv"
    path.write_bytes(os.urandom(1024))
    dataset = registered(provledger, health, path)["resource"]["dataset_id"]
    requested = answer_of(
        provledger("access", "request", dataset, "--purpose", "study", "--duration", "1d",
                   "--json", token=transport.token)
    )  # fmt: skip
    request_id = requested["resource"]["request_id"]
    approved = provledger("access", "approve", request_id, "--expires-in", "1h", token=health.token)
    assert approved.exit_code == 0, approved.output
    return health, transport, dataset, request_id


def test_a_grant_is_proven_held_then_not_held_once_revoked_and_a_hidden_revocation_is_refused(
    provledger: Invoke,
    service: Service,
    granted: tuple[Department, Department, str, str],
    tmp_path: Path,
) -> None:
    health, transport, dataset, request_id = granted
    department = str(transport.id)

    def prove(at: int, out: Path, *extra: str) -> tuple[int, dict[str, object]]:
        result = provledger("access", "prove", dataset, "--department", department,
                            "--at", str(at), "-o", str(out), "--json", *extra,
                            token=transport.token)  # fmt: skip
        assert result.exit_code in (0, EXIT_NO), result.output
        return result.exit_code, json.loads(result.stdout)

    held_at = service.runtime.chain.block_time()
    code, held = prove(held_at, tmp_path / "held.json")
    assert code == 0 and held["verdict"]["held"] is True  # type: ignore[index]
    grant = held["verdict"]["grant"]  # type: ignore[index]
    assert grant["request_id"] == request_id and grant["ended"] is None

    code, before = prove(grant["approved_at"] - 1, tmp_path / "before.json")
    assert code == EXIT_NO and before["verdict"]["reason"] == "never-granted"  # type: ignore[index]

    revoked = provledger("access", "revoke", request_id, "--reason", "over", token=health.token)
    assert revoked.exit_code == 0, revoked.output
    code, after = prove(service.runtime.chain.block_time(), tmp_path / "after.json")
    assert code == EXIT_NO and after["verdict"]["reason"] == "revoked"  # type: ignore[index]

    human = provledger("access", "check-proof", str(tmp_path / "held.json"), token=transport.token)
    assert human.exit_code == 0, human.output
    assert f"held: department {transport.id} held access to {dataset}" in human.stdout
    checked = answer_of(provledger("access", "check-proof", str(tmp_path / "after.json"),
                                   "--json", token=transport.token))  # fmt: skip
    assert checked["checked"] is True and checked["verdict"]["held"] is False

    bundle = json.loads((tmp_path / "after.json").read_text())
    for request in bundle["requests"]:
        request["events"] = [e for e in request["events"] if e["event"] != "AccessRevoked"]
    bundle["verdict"] = held["verdict"]
    (tmp_path / "forged.json").write_text(json.dumps(bundle))
    for extra in ((), ("--offline",)):
        forged = provledger("access", "check-proof", str(tmp_path / "forged.json"), *extra,
                            token=transport.token)  # fmt: skip
        assert forged.exit_code == EXIT_NO
        assert "error: access-proof-history-mismatch: request " in forged.stderr


def test_a_proof_against_a_named_node_and_contract_needs_no_token(
    provledger: Invoke, service: Service, granted: tuple[Department, Department, str, str]
) -> None:
    _, transport, dataset, _ = granted
    result = provledger("access", "prove", dataset, "--department", str(transport.id),
                        "--at", str(service.runtime.chain.block_time()),
                        "--rpc", service.url + "/rpc",
                        "--contract", service.runtime.ledger.access.address,
                        token=None)  # fmt: skip
    assert result.exit_code in (0, EXIT_NO), result.output
    assert f"department {transport.id}" in result.stdout


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--at", "last tuesday"), "is not a time like"),
        (("--at", "2026-01-01", "--department", "0"), "--department"),
        (("--at", "2026-01-01", "--contract", "0x1234"), "is not an address"),
    ],
    ids=["time", "department", "contract"],
)
def test_bad_input_is_refused_before_anything_is_asked(
    provledger: Invoke,
    granted: tuple[Department, Department, str, str],
    args: tuple[str, ...],
    problem: str,
) -> None:
    _, transport, dataset, _ = granted
    department = () if "--department" in args else ("--department", str(transport.id))
    result = provledger("access", "prove", dataset, *department, *args, token=transport.token)
    assert result.exit_code == EXIT_USAGE
    assert problem in result.output


def test_a_time_the_chain_has_not_reached_an_existing_output_and_a_bad_id_are_usage_errors(
    provledger: Invoke, granted: tuple[Department, Department, str, str], tmp_path: Path
) -> None:
    _, transport, dataset, _ = granted
    base = ("access", "prove", dataset, "--department", str(transport.id))
    future = provledger(*base, "--at", "2999-01-01", token=transport.token)
    assert future.exit_code == EXIT_USAGE
    assert "error: invalid-input: the chain has not reached" in future.stderr

    existing = tmp_path / "bundle.json"
    existing.write_text("{}")
    kept = provledger(*base, "--at", "2026-01-01", "-o", str(existing), token=transport.token)
    assert kept.exit_code == EXIT_USAGE and "never overwritten" in kept.output
    assert existing.read_text() == "{}"

    bad_id = provledger("access", "prove", "0x12", "--department", "1", "--at", "1",
                        token=transport.token)  # fmt: skip
    assert bad_id.exit_code == EXIT_USAGE and "is not an id" in bad_id.output


def test_check_proof_refuses_a_missing_file_and_names_an_unreadable_bundle(
    provledger: Invoke, tmp_path: Path
) -> None:
    missing = provledger("access", "check-proof", str(tmp_path / "nope.json"), "--offline")
    assert missing.exit_code == EXIT_USAGE

    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"format": "provledger-proof-bundle/1"}')
    result = provledger("access", "check-proof", str(garbage), "--offline", "--json")
    assert result.exit_code == EXIT_NO
    assert "error: access-proof-malformed: expected a provledger-access-proof/1" in result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "access-proof-malformed"
