"""The department and governance journeys at a terminal: ``provledger`` against a live service."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from cli_harness import (
    UPLOAD_LIMIT,
    Department,
    Invoke,
    Service,
    answer_of,
    eventually,
    registered,
)
from typer.testing import Result

EXIT_NO, EXIT_REFUSED, EXIT_FAILED, EXIT_PENDING = 1, 3, 5, 6


def _sha256(path: Path) -> str:
    return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def _shown(provledger: Invoke, token: str, dataset: str, versions: int) -> dict[str, Any]:
    """The dataset as the index shows it once it has ``versions`` versions."""

    def look() -> dict[str, Any] | None:
        result = provledger("datasets", "show", dataset, "--json", token=token)
        if result.exit_code != 0:
            return None
        answer = dict(json.loads(result.stdout))
        return answer if len(answer["versions"]) == versions else None

    answer = eventually(look)
    assert answer, f"dataset {dataset} never showed {versions} version(s)"
    return dict(answer)


def test_governance_enrols_two_departments_whose_tokens_work_at_once(
    provledger: Invoke, service: Service, department_ids: Callable[[], int]
) -> None:
    tokens = []
    for name in ("Health", "Transport"):
        number = department_ids()
        enrolled = provledger("dept", "enrol", str(number), name, token=service.governance_token)
        assert enrolled.exit_code == 0, enrolled.output
        assert f"department {number} ({name}) signs with 0x" in enrolled.stdout
        assert "a key the service keeps" in enrolled.stdout
        assert "enrolment: departments.enrol" in enrolled.stdout
        assert "confirmed" in enrolled.stdout and "(1/1 confirmations)" in enrolled.stdout
        token = enrolled.stdout.strip().splitlines()[-1]
        assert token.startswith("plk_")
        tokens.append(token)
    for token in tokens:
        assert provledger("datasets", "list", token=token).exit_code == 0


def test_a_department_registers_by_hash_by_upload_and_a_derived_version(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")

    # Hash only: the file is bigger than the service accepts as an upload, so its bytes
    # demonstrably never left the department.
    big = tmp_path / "admissions-2026.csv"
    big.write_bytes(os.urandom(UPLOAD_LIMIT + 4096))
    first = registered(provledger, health, big, "--classification", "restricted", "--tag", "health")
    dataset = first["resource"]["dataset_id"]
    assert first["resource"]["content_hash"] == _sha256(big)
    assert first["operation"]["status"] == "confirmed"
    assert first["operation"]["chain"]["tx_hash"].startswith("0x")
    too_big = provledger("register", str(big), "--upload", token=health.token)
    assert too_big.exit_code == EXIT_REFUSED
    assert "error: upload-too-large:" in too_big.stderr

    # Uploaded: the service hashes the bytes as they stream and finds the same digest.
    small = tmp_path / "beds.csv"
    small.write_bytes(b"ward,beds\nA,12\nB,9\n")
    uploaded = registered(provledger, health, small, "--upload", "--title", "Beds")
    assert uploaded["resource"]["content_hash"] == _sha256(small)
    assert uploaded["resource"]["dataset_id"] != dataset

    # A cleaned copy of the first file, as version 2 of its dataset, derived from version 1.
    derived = tmp_path / "admissions-2026-clean.csv"
    derived.write_bytes(os.urandom(2048))
    second = registered(
        provledger, health, derived, "--dataset", dataset, "--parent", f"{dataset}:1",
        "--note", "deduplicated",
    )  # fmt: skip
    assert second["operation"]["result"]["version"] == 2

    shown = _shown(provledger, health.token, dataset, versions=2)
    assert shown["metadata"]["title"] == "admissions-2026.csv"  # the file's name by default
    assert shown["metadata"]["tags"] == ["health"] and shown["classification"] == "restricted"
    assert [v["content_hash"] for v in shown["versions"]] == [_sha256(big), _sha256(derived)]
    assert shown["versions"][1]["parents"] == [{"dataset_id": dataset, "version": 1}]
    assert shown["versions"][1]["metadata"]["note"] == "deduplicated"

    human = provledger("datasets", "show", dataset, token=health.token)
    assert human.exit_code == 0, human.output
    assert f"parents {dataset}:1" in human.stdout  # the syntax --parent takes
    assert f"sha256:{_sha256(derived)[2:]}" in human.stdout
    listed = answer_of(provledger("datasets", "list", "--owner", str(health.id), "--json",
                              token=health.token))  # fmt: skip
    assert {item["dataset_id"] for item in listed["items"]} >= {dataset}


def test_access_is_requested_approved_checked_and_revoked(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health, transport = enrol("Health"), enrol("Transport")
    path = tmp_path / "admissions.csv"
    path.write_bytes(os.urandom(4096))
    answer = registered(provledger, health, path, "--classification", "restricted")
    dataset = answer["resource"]["dataset_id"]
    _shown(provledger, health.token, dataset, versions=1)

    def check(department: Department) -> Result:
        return provledger(
            "access", "check", dataset, "--department", str(transport.id), token=department.token
        )

    assert check(transport).exit_code == EXIT_NO
    requested = answer_of(
        provledger("access", "request", dataset, "--purpose", "road-accident study",
                   "--duration", "1d", "--json", token=transport.token)
    )  # fmt: skip
    request_id = requested["resource"]["request_id"]
    assert requested["operation"]["status"] == "confirmed"

    # The requester cannot grant its own request: refused, with the service's reason.
    own = provledger("access", "approve", request_id, "--expires-in", "1h", token=transport.token)
    assert own.exit_code == EXIT_REFUSED
    assert "error: forbidden: only the dataset's owner may do this" in own.stderr
    assert check(transport).exit_code == EXIT_NO

    approved = provledger("access", "approve", request_id, "--expires-in", "1h", token=health.token)
    assert approved.exit_code == 0, approved.output
    assert f"grant of {request_id} until" in approved.stdout and "confirmed" in approved.stdout
    allowed = check(health)
    assert allowed.exit_code == 0, allowed.output
    assert allowed.stdout.startswith(f"yes: department {transport.id} may read {dataset}")
    assert _shown(provledger, transport.token, dataset, versions=1)["dataset_id"] == dataset

    revoked = provledger("access", "revoke", request_id, "--reason", "study over",
                         token=health.token)  # fmt: skip
    assert revoked.exit_code == 0, revoked.output
    refused = check(transport)
    assert refused.exit_code == EXIT_NO
    assert refused.stdout.startswith(f"no: department {transport.id} may not read {dataset}")
    # The dataset's chain facts stay readable; its metadata is hidden again.
    shown = provledger("datasets", "show", dataset, "--json", token=transport.token)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["metadata"] is None


def test_an_owner_lists_incoming_requests_reads_the_purpose_and_grants_the_full_duration(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health, transport = enrol("Health"), enrol("Transport")
    path = tmp_path / "incoming.csv"
    path.write_bytes(os.urandom(64))
    dataset = registered(provledger, health, path)["resource"]["dataset_id"]
    request_id = answer_of(
        provledger("access", "request", dataset, "--purpose", "crash statistics",
                   "--duration", "2d", "--json", token=transport.token)
    )["resource"]["request_id"]  # fmt: skip

    def incoming() -> list[dict[str, Any]]:
        listed = provledger("access", "list", "--role", "incoming", "--dataset", dataset,
                            "--json", token=health.token)  # fmt: skip
        items: list[dict[str, Any]] = answer_of(listed)["items"]
        return items if items else []

    (item,) = eventually(incoming)  # once the indexer has read it
    assert item["request_id"] == request_id and item["purpose"] == "crash statistics"
    assert item["requester"] == transport.id
    human = provledger("access", "list", "--role", "incoming", "--dataset", dataset,
                       token=health.token)  # fmt: skip
    assert "purpose: crash statistics" in human.stdout

    granted = provledger("access", "approve", request_id, token=health.token)  # no expiry given
    assert granted.exit_code == 0, granted.output
    shown = answer_of(provledger("access", "show", request_id, "--json", token=transport.token))
    assert shown["status"] == "approved"
    assert 2 * 86400 - 600 < shown["expires_at"] - shown["chain"]["block_time"] <= 2 * 86400
    outgoing = answer_of(provledger("access", "list", "--role", "outgoing", "--json",
                                token=health.token))  # fmt: skip
    assert all(r["request_id"] != request_id for r in outgoing["items"])


def test_a_write_the_chain_refuses_exits_failed_with_the_contract_error(
    provledger: Invoke,
    enrol: Callable[[str], Department],
    paused_workers: Callable[[], AbstractContextManager[None]],
    tmp_path: Path,
) -> None:
    health, transport = enrol("Health"), enrol("Transport")
    path = tmp_path / "x.csv"
    path.write_bytes(os.urandom(64))
    dataset = registered(provledger, health, path)["resource"]["dataset_id"]
    request_id = answer_of(
        provledger("access", "request", dataset, "--purpose", "p", "--duration", "1h", "--json",
                   token=transport.token)
    )["resource"]["request_id"]  # fmt: skip

    # Two approvals accepted while the request is still pending on chain: the second one
    # reaches the contract after the first and is refused there.
    with paused_workers():
        for _ in range(2):
            queued = provledger("access", "approve", request_id, "--expires-in", "30m",
                                "--no-wait", "--json", token=health.token)  # fmt: skip
            assert queued.exit_code == 0, queued.output
    second = json.loads(queued.stdout)["operation_id"]
    result = provledger("ops", "wait", second, token=health.token)
    assert result.exit_code == EXIT_FAILED, result.output
    assert f"access.approve {second}: failed" in result.output
    assert "error AccessInvalidStatus: " in result.stdout  # the contract's own error, by name
    shown = provledger("ops", "show", second, "--json", token=health.token)
    operation = json.loads(shown.stdout)
    assert operation["status"] == "failed" and operation["error"]["code"] == "AccessInvalidStatus"


def test_no_wait_returns_the_operation_and_ops_follows_it(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    path = tmp_path / "quick.csv"
    path.write_bytes(os.urandom(64))
    accepted = registered(provledger, health, path, "--no-wait")
    assert "operation" not in accepted and accepted["status"] == "pending"
    operation_id = accepted["operation_id"]

    waited = provledger("ops", "wait", operation_id, token=health.token)
    assert waited.exit_code == 0, waited.output
    assert f"datasets.create {operation_id}: confirmed, tx 0x" in waited.stdout
    shown = answer_of(provledger("ops", "show", operation_id, "--json", token=health.token))
    assert shown["status"] == "confirmed" and shown["result"]["version"] == 1
    assert shown["confirmations"] >= shown["required_confirmations"] == 1


def test_a_wait_that_runs_out_says_how_to_follow_up(
    provledger: Invoke,
    paused_workers: Callable[[], AbstractContextManager[None]],
    enrol: Callable[[str], Department],
    tmp_path: Path,
) -> None:
    health = enrol("Health")
    path = tmp_path / "slow.csv"
    path.write_bytes(os.urandom(64))
    with paused_workers():  # nothing reaches the chain while the relayer is stopped
        result = provledger("register", str(path), "--timeout", "0.3", token=health.token)
    assert result.exit_code == EXIT_PENDING
    assert "error: timeout: operation op_" in result.stderr
    assert "is still pending after 0s" in result.stderr
    operation_id = result.stderr.split("provledger ops wait ")[1].split("`")[0]
    assert provledger("ops", "wait", operation_id, token=health.token).exit_code == 0


def test_json_output_is_clean_data_on_stdout_with_progress_on_stderr(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    path = tmp_path / "piped.csv"
    path.write_bytes(os.urandom(64))
    result = provledger("register", str(path), "--json", token=health.token)
    answer = answer_of(result)  # the whole of stdout is one JSON document
    operation_id = answer["operation_id"]
    assert f"datasets.create {operation_id}: confirmed" in result.stderr


def test_governance_suspends_reactivates_and_manages_tokens(
    provledger: Invoke, service: Service, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    governance = service.governance_token
    suspended = provledger("dept", "suspend", str(health.id), "--reason", "audit",
                           token=governance)  # fmt: skip
    assert suspended.exit_code == 0, suspended.output
    assert f"suspension of department {health.id}: departments.suspend" in suspended.stdout
    path = tmp_path / "during-suspension.csv"
    path.write_bytes(os.urandom(64))
    while_suspended = provledger("register", str(path), token=health.token)
    assert while_suspended.exit_code == EXIT_REFUSED  # refused at once, not after a 202
    assert f"error: unauthorized: department {health.id} is suspended" in (while_suspended.stderr)
    reactivated = provledger("dept", "reactivate", str(health.id), token=governance)
    assert reactivated.exit_code == 0, reactivated.output
    assert provledger("register", str(path), token=health.token).exit_code == 0

    # Without --token, governance commands use the token `provledger serve` wrote.
    issued = answer_of(
        provledger("dept", "token", str(health.id), "--label", "laptop", "--json",
                   PROVLEDGER_DATA_DIR=str(service.data_dir))
    )  # fmt: skip
    assert issued["kind"] == "department" and issued["department_id"] == health.id
    assert provledger("datasets", "list", token=issued["token"]).exit_code == 0
    revoked = provledger("token", "revoke", issued["token_id"], token=governance)
    assert revoked.exit_code == 0, revoked.output
    after = provledger("datasets", "list", token=issued["token"])
    assert after.exit_code == EXIT_REFUSED
    assert "error: unauthenticated: the token is unknown or revoked" in after.stderr

    issued = provledger("auditor", "token", "--label", "NAO", "--json", token=governance)
    auditor = answer_of(issued)
    assert auditor["kind"] == "auditor" and auditor["token"].startswith("plk_")
    refused = provledger("register", str(path), token=auditor["token"])
    assert refused.exit_code == EXIT_REFUSED and "error: forbidden:" in refused.stderr


def test_audit_lists_a_departments_own_trail(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    path = tmp_path / "audited.csv"
    path.write_bytes(os.urandom(64))
    dataset = registered(provledger, health, path)["resource"]["dataset_id"]

    def created() -> list[dict[str, Any]]:
        page = answer_of(provledger("audit", "--dataset", dataset, "--json", token=health.token))
        return [e for e in page["items"] if e["event"] == "DatasetCreated"]

    [event] = eventually(created)
    assert event["chain"]["tx_hash"].startswith("0x")


def test_registering_the_same_bytes_again_says_where_they_were_registered_before(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> None:
    health = enrol("Health")
    path = tmp_path / "twice.csv"
    path.write_bytes(os.urandom(64))
    first = registered(provledger, health, path)["resource"]["dataset_id"]

    def second_time() -> Result | None:
        again = provledger("register", str(path), token=health.token)
        assert again.exit_code == 0, again.output
        return again if "registered before" in again.stderr else None

    # The index names the first registration a moment after it is confirmed.
    again = eventually(second_time)
    assert again, "the second registration never named the first"
    assert f"note: these bytes were registered before, as {first}:1 (dept {health.id})" in (
        again.stderr
    )
