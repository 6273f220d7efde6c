"""Bad input at the terminal: a clear message, a distinct exit status, and nothing changed.

Exit statuses: 2 bad arguments (nothing sent), 3 the service refused, 4 no service answered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_harness import Department, Invoke

from ledger.chain.anvil import free_port

EXIT_USAGE, EXIT_REFUSED, EXIT_UNAVAILABLE = 2, 3, 4
NOT_REGISTERED = "0x" + "ab" * 32


@pytest.fixture(scope="module")
def health(enrol: Callable[[str], Department]) -> Department:
    """One department for the module: none of these tests changes anything."""
    return enrol("Health")


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(os.urandom(256))
    return path


@pytest.fixture
def unchanged(outbox_size: Callable[[], int]) -> Callable[[], None]:
    """Call at the end of a test: the service accepted no write since the test began."""
    before = outbox_size()

    def check() -> None:
        assert outbox_size() == before

    return check


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hash", "0x1234", "--title", "t"], "expected 64 hex digits after '0x', got 4"),
        (["--hash", "ab" * 32, "--title", "t"], "digest must start with '0x'"),
        (["--hash", "0x" + "zz" * 32, "--title", "t"], "digest has non-hex characters"),
        (["--hash", NOT_REGISTERED], "--title is needed with --hash"),
        (["--hash", NOT_REGISTERED, "--title", "t", "--upload"], "--upload needs a FILE"),
        ([], "give a FILE or --hash"),
    ],
    ids=["short-hash", "no-0x", "non-hex", "hash-without-title", "upload-a-hash", "nothing"],
)
def test_register_refuses_a_malformed_hash_before_sending_anything(
    provledger: Invoke,
    health: Department,
    unchanged: Callable[[], None],
    args: list[str],
    message: str,
) -> None:
    result = provledger("register", *args, token=health.token)
    assert result.exit_code == EXIT_USAGE
    assert message in result.stderr
    unchanged()


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ("nonsense", "'nonsense' is not DATASET:VERSION"),
        (f"{NOT_REGISTERED}", "is not DATASET:VERSION"),
        (f"{NOT_REGISTERED}:one", "is not DATASET:VERSION"),
        (f"0x12:{1}", "is not DATASET:VERSION"),
        (f"{NOT_REGISTERED}:0", "versions count from 1, got 0"),
    ],
    ids=["word", "no-version", "word-version", "short-id", "version-0"],
)
def test_register_refuses_a_malformed_parent(
    provledger: Invoke,
    health: Department,
    data_file: Path,
    unchanged: Callable[[], None],
    parent: str,
    message: str,
) -> None:
    result = provledger("register", str(data_file), "--parent", parent, token=health.token)
    assert result.exit_code == EXIT_USAGE
    assert "--parent" in result.stderr and message in result.stderr
    unchanged()


def test_a_well_formed_parent_that_does_not_exist_is_refused_by_the_service(
    provledger: Invoke, health: Department, data_file: Path, unchanged: Callable[[], None]
) -> None:
    result = provledger(
        "register", str(data_file), "--parent", f"{NOT_REGISTERED}:1", token=health.token
    )
    assert result.exit_code == EXIT_REFUSED
    assert f"error: not-found: parent version 1 of dataset {NOT_REGISTERED} does not exist" in (
        result.stderr
    )
    unchanged()


def test_a_missing_file_is_named(
    provledger: Invoke, health: Department, tmp_path: Path, unchanged: Callable[[], None]
) -> None:
    result = provledger("register", str(tmp_path / "missing.csv"), token=health.token)
    assert result.exit_code == EXIT_USAGE
    assert "missing.csv" in result.stderr and "does not exist" in result.stderr
    unchanged()


def test_an_unreachable_service_is_reported_as_such(
    provledger: Invoke, health: Department, data_file: Path, unchanged: Callable[[], None]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = provledger("register", str(data_file), "--url", nowhere, token=health.token)
    assert result.exit_code == EXIT_UNAVAILABLE
    assert f"error: unreachable: no answer from {nowhere}" in result.stderr
    unchanged()


def test_a_bad_token_is_refused_and_json_mode_says_so_on_stdout_too(
    provledger: Invoke, data_file: Path, unchanged: Callable[[], None]
) -> None:
    result = provledger("register", str(data_file), "--json", token="plk_not-a-real-token")
    assert result.exit_code == EXIT_REFUSED
    assert "error: unauthenticated: the token is unknown or revoked" in result.stderr
    assert json.loads(result.stdout) == {
        "error": {
            "code": "unauthenticated",
            "detail": "the token is unknown or revoked",
            "status": 401,
        }
    }
    unchanged()


def test_no_token_at_all_is_a_usage_error(
    provledger: Invoke, data_file: Path, unchanged: Callable[[], None]
) -> None:
    result = provledger("register", str(data_file), token=None)
    assert result.exit_code == EXIT_USAGE
    assert "error: no-token: give --token or set PROVLEDGER_TOKEN" in result.stderr
    governance = provledger("dept", "enrol", "9999", "Nobody", token=None)
    assert governance.exit_code == EXIT_USAGE
    assert "or run next to the service's data directory" in governance.stderr
    unchanged()


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--dataset", "0x12"], EXIT_USAGE, "'0x12' is not an id: 0x and 64 hex digits"),
        (
            ["--dataset", NOT_REGISTERED],
            EXIT_REFUSED,
            f"error: not-found: no dataset {NOT_REGISTERED}",
        ),
    ],
    ids=["malformed", "unknown"],
)
def test_a_version_for_a_bad_dataset_is_refused_before_or_by_the_service(
    provledger: Invoke,
    health: Department,
    data_file: Path,
    unchanged: Callable[[], None],
    args: list[str],
    exit_code: int,
    message: str,
) -> None:
    result = provledger("register", str(data_file), *args, token=health.token)
    assert result.exit_code == exit_code
    assert message in result.stderr
    unchanged()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", NOT_REGISTERED, "--title", "t"], "--title describe a new dataset"),
        (["--dataset", NOT_REGISTERED, "--classification", "public"], "--classification"),
        (["--note", "n"], "--note is for a new version"),
        (["--classification", "secret"], "'secret' is not one of"),
    ],
    ids=["title-on-version", "classification-on-version", "note-on-dataset", "bad-class"],
)
def test_register_options_that_do_not_fit_together_are_refused(
    provledger: Invoke,
    health: Department,
    data_file: Path,
    unchanged: Callable[[], None],
    args: list[str],
    message: str,
) -> None:
    result = provledger("register", str(data_file), *args, token=health.token)
    assert result.exit_code == EXIT_USAGE
    assert message in result.stderr
    unchanged()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["request", NOT_REGISTERED, "--purpose", "p", "--duration", "soon"], "is not a duration"),
        (["request", NOT_REGISTERED, "--purpose", "p", "--duration", "0d"], "is not a duration"),
        (["approve", NOT_REGISTERED, "--expires-in", "1h", "--expires-at", "9"], "not both"),
    ],
    ids=["word-duration", "zero-duration", "two-expiries"],
)
def test_access_commands_refuse_malformed_durations_and_expiries(
    provledger: Invoke,
    health: Department,
    unchanged: Callable[[], None],
    args: list[str],
    message: str,
) -> None:
    result = provledger("access", *args, token=health.token)
    assert result.exit_code == EXIT_USAGE
    assert message in result.stderr
    unchanged()


def test_access_to_an_unknown_request_is_not_found(
    provledger: Invoke, health: Department, unchanged: Callable[[], None]
) -> None:
    result = provledger("access", "approve", NOT_REGISTERED, "--expires-in", "1h",
                        token=health.token)  # fmt: skip
    assert result.exit_code == EXIT_REFUSED
    assert f"error: not-found: no access request {NOT_REGISTERED}" in result.stderr
    unchanged()


def test_an_id_cannot_smuggle_in_another_route(
    provledger: Invoke,
    health: Department,
    data_file: Path,
    outbox_size: Callable[[], int],
) -> None:
    registered = provledger("register", str(data_file), "--json", token=health.token)
    assert registered.exit_code == 0, registered.output
    dataset = json.loads(registered.stdout)["resource"]["dataset_id"]
    before = outbox_size()
    # Pasted as a request id, this would otherwise be POST /v1/datasets/<dataset>/withdraw.
    smuggled = f"../datasets/{dataset}/withdraw?"
    result = provledger("access", "cancel", smuggled, token=health.token)
    assert result.exit_code == EXIT_USAGE  # not an id: never sent (the client escapes it too)
    assert "is not an id" in result.stderr
    assert outbox_size() == before  # no withdrawal, nor anything else, was accepted


def test_a_governance_token_that_cannot_be_read_or_found_is_named(
    provledger: Invoke, tmp_path: Path, unchanged: Callable[[], None]
) -> None:
    (tmp_path / "governance.token").mkdir()
    unreadable = provledger("dept", "token", "1", token=None, PROVLEDGER_DATA_DIR=str(tmp_path))
    assert unreadable.exit_code == EXIT_USAGE
    assert "error: no-token: cannot read the governance token:" in unreadable.stderr
    misconfigured = provledger("dept", "token", "1", token=None, PROVLEDGER_PORT="eighty")
    assert misconfigured.exit_code == EXIT_USAGE
    assert "error: configuration-error: PROVLEDGER_* settings:" in misconfigured.stderr
    unchanged()


def test_a_malformed_id_is_a_usage_error_and_nothing_is_sent(
    provledger: Invoke, health: Department, unchanged: Callable[[], None]
) -> None:
    for args in (
        ("datasets", "show", "0x1234"),
        ("lineage", "not-an-id"),
        ("access", "request", "0xZZ" + "0" * 62, "--purpose", "p", "--duration", "1d"),
        ("access", "show", "12"),
        ("audit", "--dataset", "0x" + "a" * 63),
    ):
        result = provledger(*args, token=health.token)
        assert result.exit_code == EXIT_USAGE, (args, result.output)
        assert "is not an id: 0x and 64 hex digits" in result.stderr, result.stderr
    unchanged()
