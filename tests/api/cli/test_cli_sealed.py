"""Sharing a sealed dataset at a terminal: Health seals and registers a file, grants Transport,
Transport fetches and opens it; nobody else can, and nothing tampered is ever written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_harness import Department, Invoke, Service, answer_of, eventually
from typer.testing import Result

from ledger.hashing import Digest

EXIT_REFUSED, EXIT_TAMPERED, EXIT_ENDED = 3, 7, 8


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def shared(
    provledger: Invoke, enrol: Callable[[str], Department], tmp_path: Path
) -> dict[str, object]:
    """Health's sealed dataset (several chunks), Transport granted, Audit not."""
    health, transport, audit = enrol("Health"), enrol("Transport"), enrol("Audit")
    for department in (health, transport):
        _ok(provledger("keys", "publish", token=department.token))
    plaintext = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "claims.csv"
    source.write_bytes(plaintext)
    registered = answer_of(
        _ok(provledger("register", str(source), "--seal", "--json", token=health.token))
    )
    dataset = registered["resource"]["dataset_id"]
    assert registered["resource"]["sealed"]["size"] > len(plaintext)
    asked = answer_of(
        _ok(
            provledger(
                "access",
                "request",
                dataset,
                "--purpose",
                "accident study",
                "--duration",
                "30d",
                "--json",
                token=transport.token,
            )
        )
    )
    request = asked["resource"]["request_id"]

    def approved() -> bool:
        result = provledger(
            "access", "approve", request, "--expires-in", "7d", "--json", token=health.token
        )
        return result.exit_code == 0

    assert eventually(approved), "the request was never approvable"
    return {
        "health": health,
        "transport": transport,
        "audit": audit,
        "dataset": dataset,
        "request": request,
        "plaintext": plaintext,
    }


def _fetch(provledger: Invoke, who: Department, dataset: str, out: Path, *args: str) -> Result:
    def attempt() -> Result | None:
        result = provledger("fetch", dataset, "-o", str(out), "--json", *args, token=who.token)
        # The version is readable once indexed: until then a 404 is the honest answer.
        return None if result.exit_code == EXIT_REFUSED and "not-found" in result.output else result

    result = eventually(attempt)
    assert result is not None
    return result


def test_a_grantee_fetches_and_opens_the_sealed_file(
    provledger: Invoke, shared: dict[str, object], tmp_path: Path
) -> None:
    out = tmp_path / "received.csv"
    transport = shared["transport"]
    assert isinstance(transport, Department)

    fetched = answer_of(_ok(_fetch(provledger, transport, str(shared["dataset"]), out)))

    assert out.read_bytes() == shared["plaintext"]
    assert fetched["version"] == 1
    assert fetched["resumed_from"] == 0
    assert not list(tmp_path.glob(".received.csv.*.part"))


def test_a_department_without_a_grant_is_refused_and_nothing_is_written(
    provledger: Invoke, shared: dict[str, object], tmp_path: Path
) -> None:
    out = tmp_path / "nope.csv"
    audit = shared["audit"]
    assert isinstance(audit, Department)

    refused = _fetch(provledger, audit, str(shared["dataset"]), out)

    assert refused.exit_code == EXIT_REFUSED
    assert json.loads(refused.stdout)["error"]["code"] == "access-not-granted"
    assert not out.exists()


def test_a_revoked_grantee_gets_its_own_exit_status(
    provledger: Invoke, shared: dict[str, object], tmp_path: Path
) -> None:
    health, transport = shared["health"], shared["transport"]
    assert isinstance(health, Department) and isinstance(transport, Department)
    _ok(_fetch(provledger, transport, str(shared["dataset"]), tmp_path / "first.csv"))
    _ok(
        provledger(
            "access", "revoke", str(shared["request"]), "--reason", "done", token=health.token
        )
    )

    def ended() -> Result | None:
        result = provledger(
            "fetch", str(shared["dataset"]), "-o", str(tmp_path / "again.csv"), "--json",
            token=transport.token,
        )  # fmt: skip
        return result if result.exit_code == EXIT_ENDED else None

    result = eventually(ended)
    assert result is not None, "a revoked grantee was never told its access ended"
    assert json.loads(result.stdout)["error"]["code"] == "access-revoked"
    assert not (tmp_path / "again.csv").exists()


def test_a_tampered_blob_is_detected_and_nothing_is_written(
    provledger: Invoke, service: Service, shared: dict[str, object], tmp_path: Path
) -> None:
    transport = shared["transport"]
    assert isinstance(transport, Department)
    first = answer_of(
        _ok(
            provledger(
                "fetch",
                str(shared["dataset"]),
                "-o",
                str(tmp_path / "a"),
                "--json",
                token=transport.token,
            )
        )
    )
    sealed = service.runtime.blobs.path(Digest(bytes.fromhex(_sealed_sha256(provledger, shared))))
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in a chunk in the middle
    sealed.chmod(0o600)
    sealed.write_bytes(bytes(data))
    out = tmp_path / "tampered.csv"

    result = provledger(
        "fetch", str(shared["dataset"]), "-o", str(out), "--json", token=transport.token
    )

    assert first["version"] == 1
    assert result.exit_code == EXIT_TAMPERED, result.output
    assert json.loads(result.stdout)["error"]["code"] == "seal-tampered"
    assert not out.exists()
    assert not list(tmp_path.glob(".tampered.csv.*.part"))  # nothing half-opened is kept


def test_an_interrupted_fetch_resumes_from_the_first_chunk_it_lacks(
    provledger: Invoke, shared: dict[str, object], tmp_path: Path
) -> None:
    transport = shared["transport"]
    plaintext = shared["plaintext"]
    assert isinstance(transport, Department) and isinstance(plaintext, bytes)
    sha256 = _sealed_sha256(provledger, shared)
    out = tmp_path / "resumed.csv"
    # What a fetch killed half-way through its second 1 MiB chunk leaves: the opened chunks.
    part = tmp_path / f".resumed.csv.{sha256[:16]}.part"
    part.write_bytes(plaintext[: (3 << 20) // 2])

    fetched = answer_of(_ok(provledger("fetch", str(shared["dataset"]), "-o", str(out), "--json",
                                       token=transport.token)))  # fmt: skip

    assert fetched["resumed_from"] == 1 << 20  # whole chunks only: the cut one is fetched again
    assert out.read_bytes() == plaintext
    assert not part.exists()


def test_a_part_file_that_is_not_the_data_never_becomes_the_output(
    provledger: Invoke, shared: dict[str, object], tmp_path: Path
) -> None:
    transport = shared["transport"]
    assert isinstance(transport, Department)
    sha256 = _sealed_sha256(provledger, shared)
    out = tmp_path / "forged.csv"
    part = tmp_path / f".forged.csv.{sha256[:16]}.part"
    part.write_bytes(os.urandom(2 << 20))  # left by someone else, or a disk that lied

    result = provledger("fetch", str(shared["dataset"]), "-o", str(out), "--json",
                        token=transport.token)  # fmt: skip

    assert result.exit_code == EXIT_TAMPERED, result.output
    assert json.loads(result.stdout)["error"]["code"] == "seal-content-mismatch"
    assert not out.exists()
    assert not part.exists()
    again = answer_of(_ok(provledger("fetch", str(shared["dataset"]), "-o", str(out), "--json",
                                     token=transport.token)))  # fmt: skip
    assert again["resumed_from"] == 0
    assert out.read_bytes() == shared["plaintext"]


def _sealed_sha256(provledger: Invoke, shared: dict[str, object]) -> str:
    health = shared["health"]
    assert isinstance(health, Department)
    shown = answer_of(_ok(provledger("datasets", "show", str(shared["dataset"]), "--json",
                                     token=health.token)))  # fmt: skip
    return str(shown["versions"][0]["metadata"]["sealed"]["sha256"])[2:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["0x1234", "-o", "x"], "0xDATASET[:VERSION]"),
        (["0x" + "ab" * 32 + ":0", "-o", "x"], "a version is 1 to"),
        (["0x" + "ab" * 32], "Missing option"),
    ],
)
def test_fetch_refuses_bad_arguments_before_sending_anything(
    provledger: Invoke, args: list[str], message: str
) -> None:
    result = provledger("fetch", *args, token="plk_whatever")
    assert result.exit_code == 2
    assert message in result.output


def test_register_seal_refuses_what_cannot_be_sealed(provledger: Invoke, tmp_path: Path) -> None:
    for args in (["--seal", "--hash", "0x" + "ab" * 32, "--title", "t"], ["--seal", "--upload"]):
        result = provledger("register", *([] if "--hash" in args else [str(tmp_path)]), *args,
                            token="plk_whatever")  # fmt: skip
        assert result.exit_code == 2, result.output
        assert "--seal takes a FILE" in result.output
