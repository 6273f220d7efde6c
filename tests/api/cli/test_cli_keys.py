"""``provledger keys``: a department publishes its encryption key and anyone shows it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli_harness import Department, Invoke, Service, answer_of, eventually

from ledger.hashing import Digest
from ledger.sealing import EncryptionKeyPair, Suite

EXIT_USAGE, EXIT_REFUSED = 2, 3


def shown(provledger: Invoke, token: str, department: int, serial: int) -> dict[str, Any]:
    """The department's key in force once it is key ``serial``."""

    def look() -> dict[str, Any] | None:
        result = provledger("keys", "show", str(department), "--json", token=token)
        if result.exit_code != 0:
            return None
        answer = dict(json.loads(result.stdout))
        return answer if answer["serial"] == serial else None

    answer = eventually(look)
    assert answer, f"department {department} never showed key {serial}"
    return dict(answer)


def test_a_department_publishes_a_custodial_key_then_rotates_to_its_own(
    provledger: Invoke,
    service: Service,
    enrol: Callable[[str], Department],
    tmp_path: Path,
) -> None:
    dept = enrol("Keys")

    published = provledger("keys", "publish", "--kem", "x25519", token=dept.token)

    assert published.exit_code == 0, published.output
    assert f"department {dept.id} encryption key 0x" in published.stdout
    assert "(x25519, private key kept by the service)" in published.stdout
    assert "confirmed" in published.stdout
    held = service.runtime.encryption_key(dept.id)
    assert held is not None and held.suite is Suite.X25519
    reader = enrol("Reader")  # any department reads any public key
    first = shown(provledger, reader.token, dept.id, 1)
    assert first["fingerprint"] == held.public_key.fingerprint().hex()

    own = EncryptionKeyPair.generate().public_key
    key_file = tmp_path / "dept.pub"
    key_file.write_text("0x" + own.encode().hex() + "\n")
    answer = answer_of(
        provledger("keys", "publish", "--public-key", str(key_file), "--json", token=dept.token)
    )

    assert answer["resource"]["custodial"] is False
    assert answer["operation"]["status"] == "confirmed"
    second = shown(provledger, reader.token, dept.id, 2)
    assert second["public_key"] == "0x" + own.encode().hex()
    human = provledger("keys", "show", str(dept.id), token=dept.token)
    assert (
        f"department {dept.id} key 2: mlkem768-x25519, fingerprint {own.fingerprint().hex()}"
        in (human.stdout)
    )
    history = answer_of(
        provledger("keys", "show", str(dept.id), "--history", "--json", token=reader.token)
    )
    assert [k["serial"] for k in history["items"]] == [2, 1]
    old = service.runtime.encryption_key(dept.id, Digest.from_hex(first["fingerprint"]))
    assert old is not None  # the rotated-away custodial key still unlocks


def test_refusals_exit_with_their_codes_and_send_nothing(
    provledger: Invoke,
    service: Service,
    enrol: Callable[[str], Department],
    outbox_size: Callable[[], int],
    tmp_path: Path,
) -> None:
    dept = enrol("No key yet")
    before = outbox_size()
    garbage = tmp_path / "garbage.pub"
    garbage.write_bytes(b"\x00\x21" + bytes(32))  # a KEM the directory does not take

    bad_file = provledger("keys", "publish", "--public-key", str(garbage), token=dept.token)
    missing = provledger(
        "keys", "publish", "--public-key", str(tmp_path / "nope"), token=dept.token
    )
    governance = provledger("keys", "publish", "--json", token=service.governance_token)
    none = provledger("keys", "show", str(dept.id), "--json", token=dept.token)

    assert bad_file.exit_code == EXIT_USAGE and "KEM 0x0021" in bad_file.output
    assert missing.exit_code == EXIT_USAGE
    assert governance.exit_code == EXIT_REFUSED
    assert json.loads(governance.stdout)["error"]["code"] == "forbidden"
    assert none.exit_code == EXIT_REFUSED
    assert json.loads(none.stdout)["error"]["code"] == "encryption-key-not-published"
    assert outbox_size() == before
