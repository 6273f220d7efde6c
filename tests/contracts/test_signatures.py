"""Specification of the EIP-712 signed actions of DatasetRegistry, AccessRegistry, AnchorRegistry
and KeyDirectory.

Every ``*BySig`` function is exercised through the same table of actions: a valid signature
relayed by a non-department account succeeds once and consumes the department's nonce; a
replayed, expired, foreign-chain, foreign-contract, wrong-key, malleable (high-s), truncated,
future-nonce or tampered signature is refused with the error the contracts document.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from ledger.chain.backend import Receipt
from ledger.chain.clients import (
    AccessRegistryClient,
    DatasetRegistryClient,
    SignedActionsClient,
)
from ledger.chain.deploy import Ledger
from ledger.chain.types import (
    Authorization,
    Classification,
    Kem,
    NewVersion,
    RequestStatus,
    VersionRef,
)
from ledger.eip712 import (
    ACCESS_REGISTRY_DOMAIN,
    ACTION_DOMAINS,
    ACTION_TYPES,
    ANCHOR_REGISTRY_DOMAIN,
    DATASET_REGISTRY_DOMAIN,
    KEY_DIRECTORY_DOMAIN,
    Domain,
    TypedAction,
    encode_type,
)
from ledger.errors import (
    ECDSAInvalidSignatureError,
    ECDSAInvalidSignatureLengthError,
    ECDSAInvalidSignatureSError,
    InvalidAccountNonceError,
    SignatureExpiredError,
    SignatureWrongSignerError,
)

# --- shared helpers ------------------------------------------------------------------------

DEPT_A = 1
DEPT_B = 2
DEPT_C = 3
DAY = 86_400

#: Order of the secp256k1 group.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

EIP712_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
VERSION_REF_TYPE = "VersionRef(bytes32 datasetId,uint32 version)"


def digest(label: str) -> bytes:
    return keccak(text=label)


def nonce_key(department_id: int) -> str:
    """The address-sized key the contracts keep a department's nonce under."""
    return to_checksum_address(department_id.to_bytes(20, "big"))


def relabel(value: Any) -> Any:
    """A different value of the same EIP-712 type, to tamper with a signed field."""
    if isinstance(value, bytes):
        return value[:-1] + bytes([value[-1] ^ 0x01])
    if isinstance(value, bool):  # pragma: no cover - no boolean fields today
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, list):
        return value[:-1] if value else [{"datasetId": digest("tampered parent"), "version": 1}]
    raise TypeError(f"cannot tamper with {value!r}")


def high_s(signature: bytes) -> bytes:
    """The other valid signature of the same digest by the same key: s -> n - s, v flipped."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28


def recover_from_digest(message_digest: bytes, signature: bytes) -> str:
    """Independent ecrecover (eth-keys), accepting high-s like the precompile does."""
    r, s, v = signature[:32], signature[32:64], signature[64]
    vrs = (v - 27, int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    return (
        keys.Signature(vrs=vrs)
        .recover_public_key_from_msg_hash(message_digest)
        .to_checksum_address()
    )


@dataclass
class Action:
    """One signed action, ready to sign and submit, with a way to see it took effect."""

    primary_type: str
    client: SignedActionsClient
    signer: LocalAccount
    department_id: int
    fields: dict[str, Any]
    #: The client's own ``sign_x`` with the action's fields bound.
    client_sign: Callable[..., Authorization]
    #: ``x_by_sig`` with arguments taken from a (possibly tampered) fields dict.
    submit: Callable[[dict[str, Any], Authorization, LocalAccount], Receipt]
    done: Callable[[], bool]

    def typed(
        self, *, nonce: int, deadline: int, department_id: int | None = None, **fields: Any
    ) -> TypedAction:
        return self.client.typed_action(
            self.primary_type,
            {**self.fields, **fields},
            department_id=self.department_id if department_id is None else department_id,
            nonce=nonce,
            deadline=deadline,
        )

    def nonce(self) -> int:
        return self.client.department_nonce(self.department_id)

    def auth(self, signature: bytes, *, nonce: int, deadline: int) -> Authorization:
        return Authorization(
            department_id=self.department_id, nonce=nonce, deadline=deadline, signature=signature
        )

    def sign(
        self, deadline: int, *, nonce: int | None = None, key: LocalAccount | None = None
    ) -> Authorization:
        nonce = self.nonce() if nonce is None else nonce
        signature = self.typed(nonce=nonce, deadline=deadline).sign(key or self.signer)
        return self.auth(signature, nonce=nonce, deadline=deadline)

    def send(self, auth: Authorization, relayer: LocalAccount, **tampered: Any) -> Receipt:
        return self.submit({**self.fields, **tampered}, auth, relayer)


def _dataset(ledger: Ledger, owner: LocalAccount, department_id: int, label: str) -> bytes:
    ledger.datasets.create_dataset(
        digest(label),
        Classification.INTERNAL,
        digest(f"{label}/meta"),
        NewVersion(digest(label)),
        sender=owner,
    )
    return DatasetRegistryClient.dataset_id_of(department_id, digest(label))


def _request(
    ledger: Ledger, requester: LocalAccount, department_id: int, dataset_id: bytes, label: str
) -> bytes:
    ledger.access.request_access(
        digest(label), dataset_id, digest("purpose"), 30 * DAY, sender=requester
    )
    return AccessRegistryClient.request_id_of(department_id, digest(label))


def _new_version(f: dict[str, Any], metadata_key: str) -> NewVersion:
    parents = tuple(VersionRef(p["datasetId"], p["version"]) for p in f["parents"])
    return NewVersion(f["contentHash"], f[metadata_key], parents)


def _create_dataset(ledger: Ledger, actors: Any) -> Action:
    parent = _dataset(ledger, actors.dept_b, DEPT_B, "parent of b")
    fields: dict[str, Any] = {
        "salt": digest("signed dataset"),
        "classification": int(Classification.CONFIDENTIAL),
        "metadataHash": digest("dataset meta"),
        "contentHash": digest("dataset bytes"),
        "versionMetadataHash": digest("v1 meta"),
        "parents": [{"datasetId": parent, "version": 1}, {"datasetId": parent, "version": 1}],
    }
    dataset_id = DatasetRegistryClient.dataset_id_of(DEPT_A, fields["salt"])
    args = (
        fields["salt"],
        fields["classification"],
        fields["metadataHash"],
        _new_version(fields, "versionMetadataHash"),
    )
    return Action(
        "CreateDataset",
        ledger.datasets,
        actors.dept_a,
        DEPT_A,
        fields,
        client_sign=lambda **kw: ledger.datasets.sign_create_dataset(*args, **kw),
        submit=lambda f, auth, sender: ledger.datasets.create_dataset_by_sig(
            f["salt"],
            f["classification"],
            f["metadataHash"],
            _new_version(f, "versionMetadataHash"),
            auth=auth,
            sender=sender,
        ),
        done=lambda: ledger.datasets.dataset(dataset_id).owner == DEPT_A,
    )


def _add_version(ledger: Ledger, actors: Any) -> Action:
    dataset_id = _dataset(ledger, actors.dept_a, DEPT_A, "dataset of a")
    fields: dict[str, Any] = {
        "datasetId": dataset_id,
        "contentHash": digest("v2 bytes"),
        "metadataHash": digest("v2 meta"),
        "parents": [{"datasetId": dataset_id, "version": 1}],
    }
    return Action(
        "AddVersion",
        ledger.datasets,
        actors.dept_a,
        DEPT_A,
        fields,
        client_sign=lambda **kw: ledger.datasets.sign_add_version(
            dataset_id, _new_version(fields, "metadataHash"), **kw
        ),
        submit=lambda f, auth, sender: ledger.datasets.add_version_by_sig(
            f["datasetId"], _new_version(f, "metadataHash"), auth=auth, sender=sender
        ),
        done=lambda: ledger.datasets.dataset(dataset_id).version_count == 2,
    )


def _withdraw_dataset(ledger: Ledger, actors: Any) -> Action:
    dataset_id = _dataset(ledger, actors.dept_a, DEPT_A, "dataset of a")
    fields: dict[str, Any] = {"datasetId": dataset_id, "reasonHash": digest("superseded")}
    return Action(
        "WithdrawDataset",
        ledger.datasets,
        actors.dept_a,
        DEPT_A,
        fields,
        client_sign=lambda **kw: ledger.datasets.sign_withdraw_dataset(
            dataset_id, fields["reasonHash"], **kw
        ),
        submit=lambda f, auth, sender: ledger.datasets.withdraw_dataset_by_sig(
            f["datasetId"], f["reasonHash"], auth=auth, sender=sender
        ),
        done=lambda: ledger.datasets.dataset(dataset_id).withdrawn,
    )


def _request_access(ledger: Ledger, actors: Any) -> Action:
    dataset_id = _dataset(ledger, actors.dept_a, DEPT_A, "dataset of a")
    fields: dict[str, Any] = {
        "salt": digest("signed request"),
        "datasetId": dataset_id,
        "purposeHash": digest("purpose"),
        "requestedDuration": 7 * DAY,
    }
    request_id = AccessRegistryClient.request_id_of(DEPT_B, fields["salt"])
    args = (fields["salt"], dataset_id, fields["purposeHash"], fields["requestedDuration"])
    return Action(
        "RequestAccess",
        ledger.access,
        actors.dept_b,
        DEPT_B,
        fields,
        client_sign=lambda **kw: ledger.access.sign_request_access(*args, **kw),
        submit=lambda f, auth, sender: ledger.access.request_access_by_sig(
            f["salt"],
            f["datasetId"],
            f["purposeHash"],
            f["requestedDuration"],
            auth=auth,
            sender=sender,
        ),
        done=lambda: ledger.access.access_request(request_id).status is RequestStatus.PENDING,
    )


def _approve_access(ledger: Ledger, actors: Any) -> Action:
    dataset_id = _dataset(ledger, actors.dept_a, DEPT_A, "dataset of a")
    request_id = _request(ledger, actors.dept_b, DEPT_B, dataset_id, "b asks")
    fields: dict[str, Any] = {
        "requestId": request_id,
        "expiresAt": ledger.chain.block_time() + DAY,
    }
    return Action(
        "ApproveAccess",
        ledger.access,
        actors.dept_a,
        DEPT_A,
        fields,
        client_sign=lambda **kw: ledger.access.sign_approve_access(
            request_id, fields["expiresAt"], **kw
        ),
        submit=lambda f, auth, sender: ledger.access.approve_access_by_sig(
            f["requestId"], f["expiresAt"], auth=auth, sender=sender
        ),
        done=lambda: ledger.access.has_access(dataset_id, DEPT_B),
    )


def _deny_access(ledger: Ledger, actors: Any) -> Action:
    dataset_id = _dataset(ledger, actors.dept_a, DEPT_A, "dataset of a")
    request_id = _request(ledger, actors.dept_b, DEPT_B, dataset_id, "b asks")
    fields: dict[str, Any] = {"requestId": request_id, "reasonHash": digest("no")}
    return Action(
        "DenyAccess",
        ledger.access,
        actors.dept_a,
        DEPT_A,
        fields,
        client_sign=lambda **kw: ledger.access.sign_deny_access(
            request_id, fields["reasonHash"], **kw
        ),
        submit=lambda f, auth, sender: ledger.access.deny_access_by_sig(
            f["requestId"], f["reasonHash"], auth=auth, sender=sender
        ),
        done=lambda: ledger.access.access_request(request_id).status is RequestStatus.DENIED,
    )


def _cancel_access_request(ledger: Ledger, actors: Any) -> Action:
    dataset_id = _dataset(ledger, actors.dept_a, DEPT_A, "dataset of a")
    request_id = _request(ledger, actors.dept_b, DEPT_B, dataset_id, "b asks")
    fields: dict[str, Any] = {"requestId": request_id}
    return Action(
        "CancelAccessRequest",
        ledger.access,
        actors.dept_b,
        DEPT_B,
        fields,
        client_sign=lambda **kw: ledger.access.sign_cancel_access_request(request_id, **kw),
        submit=lambda f, auth, sender: ledger.access.cancel_access_request_by_sig(
            f["requestId"], auth=auth, sender=sender
        ),
        done=lambda: ledger.access.access_request(request_id).status is RequestStatus.CANCELLED,
    )


def _revoke_access(ledger: Ledger, actors: Any) -> Action:
    dataset_id = _dataset(ledger, actors.dept_a, DEPT_A, "dataset of a")
    request_id = _request(ledger, actors.dept_b, DEPT_B, dataset_id, "b asks")
    ledger.access.approve_access(
        request_id, ledger.chain.block_time() + 30 * DAY, sender=actors.dept_a
    )
    fields: dict[str, Any] = {"requestId": request_id, "reasonHash": digest("misuse")}
    return Action(
        "RevokeAccess",
        ledger.access,
        actors.dept_a,
        DEPT_A,
        fields,
        client_sign=lambda **kw: ledger.access.sign_revoke_access(
            request_id, fields["reasonHash"], **kw
        ),
        submit=lambda f, auth, sender: ledger.access.revoke_access_by_sig(
            f["requestId"], f["reasonHash"], auth=auth, sender=sender
        ),
        done=lambda: ledger.access.access_request(request_id).status is RequestStatus.REVOKED,
    )


def _anchor_batch(ledger: Ledger, actors: Any) -> Action:
    fields: dict[str, Any] = {
        "root": digest("batch root"),
        "size": 1000,
        "metadataHash": digest("batch meta"),
    }
    return Action(
        "AnchorBatch",
        ledger.anchors,
        actors.dept_c,
        DEPT_C,
        fields,
        client_sign=lambda **kw: ledger.anchors.sign_anchor_batch(
            fields["root"], fields["size"], fields["metadataHash"], **kw
        ),
        submit=lambda f, auth, sender: ledger.anchors.anchor_batch_by_sig(
            f["root"], f["size"], f["metadataHash"], auth=auth, sender=sender
        ),
        done=lambda: ledger.anchors.anchor(fields["root"]).department == DEPT_C,
    )


def _publish_encryption_key(ledger: Ledger, actors: Any) -> Action:
    fields: dict[str, Any] = {
        "kemId": int(Kem.MLKEM768_X25519),
        "publicKey": keccak(text="a hybrid key").ljust(Kem.MLKEM768_X25519.public_key_length, b"k"),
    }
    return Action(
        "PublishEncryptionKey",
        ledger.keys,
        actors.dept_b,
        DEPT_B,
        fields,
        client_sign=lambda **kw: ledger.keys.sign_publish_encryption_key(
            fields["kemId"], fields["publicKey"], **kw
        ),
        # Straight to the contract: the client refuses a tampered KEM before sending.
        submit=lambda f, auth, sender: ledger.keys._act(
            "publishEncryptionKey", (f["kemId"], f["publicKey"]), sender, auth
        ),
        done=lambda: ledger.keys.current_key(DEPT_B).key_hash == keccak(fields["publicKey"]),
    )


ACTIONS: dict[str, Callable[[Ledger, Any], Action]] = {
    "CreateDataset": _create_dataset,
    "AddVersion": _add_version,
    "WithdrawDataset": _withdraw_dataset,
    "RequestAccess": _request_access,
    "ApproveAccess": _approve_access,
    "DenyAccess": _deny_access,
    "CancelAccessRequest": _cancel_access_request,
    "RevokeAccess": _revoke_access,
    "AnchorBatch": _anchor_batch,
    "PublishEncryptionKey": _publish_encryption_key,
}


@pytest.fixture(params=list(ACTIONS))
def action(request: pytest.FixtureRequest, ledger: Ledger, actors: Any) -> Action:
    return ACTIONS[request.param](ledger, actors)


def other_key(actors: Any, action: Action) -> LocalAccount:
    """Another enrolled department's key."""
    key: LocalAccount = actors.dept_a if action.department_id != DEPT_A else actors.dept_b
    return key


def snake(primary_type: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", primary_type).upper()


def client_for(ledger: Ledger, primary_type: str) -> SignedActionsClient:
    return {
        DATASET_REGISTRY_DOMAIN: ledger.datasets,
        ACCESS_REGISTRY_DOMAIN: ledger.access,
        ANCHOR_REGISTRY_DOMAIN: ledger.anchors,
        KEY_DIRECTORY_DOMAIN: ledger.keys,
    }[ACTION_DOMAINS[primary_type]]


# --- the table covers every by-signature function ------------------------------------------


def test_the_action_table_covers_every_by_signature_function_of_every_contract(
    ledger: Ledger,
) -> None:
    by_sig = {
        entry["name"]
        for client in (ledger.datasets, ledger.access, ledger.anchors, ledger.keys)
        for entry in client.contract.abi
        if entry["type"] == "function" and entry["name"].endswith("BySig")
    }

    assert len(by_sig) == 10
    assert (
        {name[0].upper() + name[1:].removesuffix("BySig") for name in by_sig}
        == set(ACTIONS)
        == set(ACTION_TYPES)
    )


# --- valid signatures ------------------------------------------------------------------------


def test_a_relayed_valid_signature_takes_effect_and_consumes_the_nonce(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    nonce = action.nonce()
    other_nonce = action.client.department_nonce(
        DEPT_C if action.department_id != DEPT_C else DEPT_A
    )
    auth = action.client_sign(
        signer=action.signer, department_id=action.department_id, deadline=deadline
    )
    assert auth.nonce == nonce
    assert auth == action.sign(deadline)  # the client signs exactly the typed action (RFC 6979)
    assert not action.done()

    action.send(auth, actors.relayer)

    assert action.done()
    assert action.nonce() == nonce + 1
    assert (
        action.client.contract.functions.nonces(nonce_key(action.department_id)).call() == nonce + 1
    )
    assert (
        action.client.department_nonce(DEPT_C if action.department_id != DEPT_C else DEPT_A)
        == other_nonce
    )


def test_a_signature_can_be_used_only_once(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    auth = action.sign(deadline)
    action.send(auth, actors.relayer)

    with pytest.raises(InvalidAccountNonceError) as info:
        action.send(auth, actors.relayer)

    assert info.value.args_by_name == {
        "account": nonce_key(action.department_id),
        "currentNonce": auth.nonce + 1,
    }
    assert action.nonce() == auth.nonce + 1


def test_a_nonce_from_the_future_is_refused(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    current = action.nonce()
    auth = action.sign(deadline, nonce=current + 1)

    with pytest.raises(InvalidAccountNonceError) as info:
        action.send(auth, actors.relayer)

    assert info.value.args_by_name == {
        "account": nonce_key(action.department_id),
        "currentNonce": current,
    }
    assert not action.done()


def test_an_expired_signature_is_refused(ledger: Ledger, actors: Any, action: Action) -> None:
    expired = ledger.chain.block_time() - 1
    auth = action.sign(expired)

    with pytest.raises(SignatureExpiredError) as info:
        action.send(auth, actors.relayer)

    assert info.value.args_by_name["deadline"] == expired
    assert info.value.args_by_name["blockTime"] > expired
    assert action.nonce() == auth.nonce
    assert not action.done()


# --- signatures for something else ------------------------------------------------------------


def _refused_as_wrong_signer(
    action: Action, actors: Any, signature: bytes, nonce: int, deadline: int
) -> str:
    with pytest.raises(SignatureWrongSignerError) as info:
        action.send(action.auth(signature, nonce=nonce, deadline=deadline), actors.relayer)
    assert info.value.args_by_name["departmentId"] == action.department_id
    recovered = info.value.args_by_name["recovered"]
    assert recovered != action.signer.address
    assert action.nonce() == nonce
    assert not action.done()
    return str(recovered)


def test_a_signature_for_another_chain_is_refused(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    nonce = action.nonce()
    typed = action.typed(nonce=nonce, deadline=deadline)
    foreign = dataclasses.replace(
        typed, domain=dataclasses.replace(typed.domain, chain_id=ledger.chain.chain_id + 1)
    )
    signature = foreign.sign(action.signer)

    recovered = _refused_as_wrong_signer(action, actors, signature, nonce, deadline)

    # The contract recovered over its own domain: what the same signature means on this chain.
    assert recovered == typed.recover(signature)


def test_a_signature_for_another_contract_is_refused(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    nonce = action.nonce()
    typed = action.typed(nonce=nonce, deadline=deadline)
    clients = (ledger.datasets, ledger.access, ledger.anchors, ledger.keys, ledger.departments)
    elsewhere = [c.address for c in clients]
    elsewhere.remove(action.client.address)

    for address in elsewhere:
        foreign = dataclasses.replace(
            typed, domain=dataclasses.replace(typed.domain, verifying_contract=address)
        )
        _refused_as_wrong_signer(action, actors, foreign.sign(action.signer), nonce, deadline)


def test_a_signature_under_another_domain_version_is_refused(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    nonce = action.nonce()
    typed = action.typed(nonce=nonce, deadline=deadline)
    foreign = dataclasses.replace(typed, domain=dataclasses.replace(typed.domain, version="2"))

    _refused_as_wrong_signer(action, actors, foreign.sign(action.signer), nonce, deadline)


def test_a_signature_by_another_departments_key_is_refused(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    key = other_key(actors, action)
    auth = action.sign(deadline, key=key)

    with pytest.raises(SignatureWrongSignerError) as info:
        action.send(auth, actors.relayer)

    assert info.value.args_by_name == {
        "departmentId": action.department_id,
        "recovered": key.address,
    }
    assert action.nonce() == auth.nonce
    assert not action.done()


def test_a_signature_by_an_outsider_is_refused(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    auth = action.sign(deadline, key=actors.outsider)

    with pytest.raises(SignatureWrongSignerError) as info:
        action.send(auth, actors.relayer)

    assert info.value.args_by_name == {
        "departmentId": action.department_id,
        "recovered": actors.outsider.address,
    }


def test_every_signed_field_is_bound_by_the_signature(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    auth = action.sign(deadline)
    message = action.typed(nonce=auth.nonce, deadline=deadline).message
    envelope = {"departmentId": "department_id", "nonce": "nonce", "deadline": "deadline"}
    another_department = DEPT_C if action.department_id != DEPT_C else DEPT_B

    for name, value in message.items():
        if name in envelope:
            changed = another_department if name == "departmentId" else relabel(value)
            tampered = dataclasses.replace(auth, **{envelope[name]: changed})
            with pytest.raises(SignatureWrongSignerError) as info:
                action.send(tampered, actors.relayer)
        else:
            with pytest.raises(SignatureWrongSignerError) as info:
                action.send(auth, actors.relayer, **{name: relabel(value)})
            tampered = auth
        assert info.value.args_by_name["departmentId"] == tampered.department_id, name
        assert info.value.args_by_name["recovered"] != action.signer.address, name

    assert not action.done()
    assert action.nonce() == auth.nonce
    action.send(auth, actors.relayer)  # the untampered original still works
    assert action.done()


# --- malformed signatures ---------------------------------------------------------------------


def test_a_high_s_signature_is_refused_as_malleable(
    ledger: Ledger, actors: Any, action: Action, deadline: int
) -> None:
    auth = action.sign(deadline)
    typed = action.typed(nonce=auth.nonce, deadline=deadline)
    malleable = high_s(auth.signature)
    # It is a valid signature of the same digest by the same key: only the s-half rule rejects it.
    assert recover_from_digest(typed.digest(), malleable) == action.signer.address
    assert int.from_bytes(malleable[32:64], "big") > SECP256K1_N // 2

    with pytest.raises(ECDSAInvalidSignatureSError) as info:
        action.send(dataclasses.replace(auth, signature=malleable), actors.relayer)

    assert info.value.args_by_name == {"s": "0x" + malleable[32:64].hex()}
    assert not action.done()
    action.send(auth, actors.relayer)
    assert action.done()


@pytest.mark.parametrize("length", [0, 64, 66])
def test_a_signature_that_is_not_65_bytes_is_refused(
    ledger: Ledger, actors: Any, action: Action, deadline: int, length: int
) -> None:
    auth = action.sign(deadline)
    wrong = (auth.signature + b"\x00")[:length]

    with pytest.raises(ECDSAInvalidSignatureLengthError) as info:
        action.send(dataclasses.replace(auth, signature=wrong), actors.relayer)

    assert info.value.args_by_name == {"length": length}
    assert action.nonce() == auth.nonce


@pytest.mark.parametrize("kind", ["zero-r-and-s", "v-not-27-or-28"])
def test_a_signature_that_recovers_no_address_is_refused(
    ledger: Ledger, actors: Any, deadline: int, kind: str
) -> None:
    action = _anchor_batch(ledger, actors)
    auth = action.sign(deadline)
    if kind == "zero-r-and-s":
        garbage = bytes(64) + bytes([27])
    else:
        garbage = auth.signature[:64] + bytes([29])

    with pytest.raises(ECDSAInvalidSignatureError):
        action.send(dataclasses.replace(auth, signature=garbage), actors.relayer)

    assert not action.done()
    assert action.nonce() == auth.nonce


# --- type hashes and domains ---------------------------------------------------------------


@pytest.mark.parametrize("primary_type", list(ACTION_TYPES))
def test_each_contract_typehash_is_the_keccak_of_the_python_type_string(
    ledger: Ledger, primary_type: str
) -> None:
    client = client_for(ledger, primary_type)
    constant = getattr(client.contract.functions, f"{snake(primary_type)}_TYPEHASH")().call()

    assert bytes(constant) == keccak(text=encode_type(primary_type))


def test_encode_type_appends_the_version_ref_type_to_actions_with_parents() -> None:
    assert encode_type("AddVersion") == (
        "AddVersion(uint64 departmentId,bytes32 datasetId,bytes32 contentHash,bytes32 metadataHash,"
        "VersionRef[] parents,uint256 nonce,uint256 deadline)" + VERSION_REF_TYPE
    )
    assert encode_type("CancelAccessRequest") == (
        "CancelAccessRequest(uint64 departmentId,bytes32 requestId,uint256 nonce,uint256 deadline)"
    )


def test_the_version_ref_typehash_is_the_keccak_of_its_type_string(ledger: Ledger) -> None:
    constant = ledger.datasets.contract.functions.VERSION_REF_TYPEHASH().call()

    assert bytes(constant) == keccak(text=VERSION_REF_TYPE)


def test_every_typehash_constant_of_the_contracts_is_checked(ledger: Ledger) -> None:
    constants = {
        entry["name"]
        for client in (ledger.datasets, ledger.access, ledger.anchors, ledger.keys)
        for entry in client.contract.abi
        if entry["type"] == "function" and entry["name"].endswith("_TYPEHASH")
    }

    assert constants == {f"{snake(t)}_TYPEHASH" for t in ACTION_TYPES} | {"VERSION_REF_TYPEHASH"}


@pytest.mark.parametrize("which", ["datasets", "access", "anchors", "keys"])
def test_the_eip712_domain_of_each_contract_matches_the_clients_domain(
    ledger: Ledger, which: str
) -> None:
    client: SignedActionsClient = getattr(ledger, which)
    fields, name, version, chain_id, verifying_contract, salt, extensions = (
        client.contract.functions.eip712Domain().call()
    )

    assert fields == b"\x0f"  # name, version, chainId, verifyingContract
    assert (
        Domain(name=name, version=version, chain_id=chain_id, verifying_contract=verifying_contract)
        == client.domain
    )
    assert client.domain.chain_id == ledger.chain.chain_id == ledger.chain.w3.eth.chain_id
    assert client.domain.verifying_contract == client.address
    assert (bytes(salt), list(extensions)) == (bytes(32), [])


def test_the_signing_contracts_have_distinct_domain_names(ledger: Ledger) -> None:
    names = {c.domain.name for c in (ledger.datasets, ledger.access, ledger.anchors, ledger.keys)}

    assert names == {
        DATASET_REGISTRY_DOMAIN,
        ACCESS_REGISTRY_DOMAIN,
        ANCHOR_REGISTRY_DOMAIN,
        KEY_DIRECTORY_DOMAIN,
    }


# --- TypedAction -----------------------------------------------------------------------------


def _domain_separator(domain: Domain) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                EIP712_DOMAIN_TYPEHASH,
                keccak(text=domain.name),
                keccak(text=domain.version),
                domain.chain_id,
                domain.verifying_contract,
            ],
        )
    )


def test_digest_is_keccak_of_1901_domain_separator_and_struct_hash(
    ledger: Ledger, actors: Any
) -> None:
    dataset_id, parent = digest("dataset"), digest("parent")
    typed = ledger.datasets.typed_action(
        "AddVersion",
        {
            "datasetId": dataset_id,
            "contentHash": digest("content"),
            "metadataHash": digest("meta"),
            "parents": [
                {"datasetId": parent, "version": 7},
                {"datasetId": dataset_id, "version": 1},
            ],
        },
        department_id=DEPT_A,
        nonce=5,
        deadline=123_456,
    )
    ref = ["bytes32", "bytes32", "uint32"]
    parents_hash = keccak(
        keccak(abi_encode(ref, [keccak(text=VERSION_REF_TYPE), parent, 7]))
        + keccak(abi_encode(ref, [keccak(text=VERSION_REF_TYPE), dataset_id, 1]))
    )
    struct_hash = keccak(
        abi_encode(
            ["bytes32", "uint64", "bytes32", "bytes32", "bytes32", "bytes32", "uint256", "uint256"],
            [
                keccak(text=encode_type("AddVersion")),
                DEPT_A,
                dataset_id,
                digest("content"),
                digest("meta"),
                parents_hash,
                5,
                123_456,
            ],
        )
    )

    assert typed.digest() == keccak(b"\x19\x01" + _domain_separator(typed.domain) + struct_hash)


def test_digest_differs_for_every_domain_component(ledger: Ledger) -> None:
    typed = ledger.anchors.typed_action(
        "AnchorBatch",
        {"root": digest("r"), "size": 1, "metadataHash": digest("m")},
        department_id=1,
        nonce=0,
        deadline=1,
    )
    variants = [
        dataclasses.replace(typed.domain, chain_id=typed.domain.chain_id + 1),
        dataclasses.replace(typed.domain, verifying_contract=ledger.datasets.address),
        dataclasses.replace(typed.domain, version="2"),
    ]

    digests = {typed.digest()} | {dataclasses.replace(typed, domain=d).digest() for d in variants}
    assert len(digests) == 4


def test_sign_then_recover_and_digest_agree_with_the_signers_address(
    ledger: Ledger, actors: Any
) -> None:
    typed = ledger.access.typed_action(
        "ApproveAccess",
        {"requestId": digest("req"), "expiresAt": 99},
        department_id=DEPT_A,
        nonce=3,
        deadline=10**10,
    )

    signature = typed.sign(actors.dept_a)

    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2  # low-s
    assert typed.recover(signature) == actors.dept_a.address
    assert recover_from_digest(typed.digest(), signature) == actors.dept_a.address
    assert typed.recover(typed.sign(actors.dept_b)) == actors.dept_b.address
    other = dataclasses.replace(typed, message={**typed.message, "nonce": 4})
    assert other.recover(signature) != actors.dept_a.address


def _anchor_message(**overrides: Any) -> dict[str, Any]:
    return {
        "departmentId": 1,
        "root": digest("r"),
        "size": 1,
        "metadataHash": digest("m"),
        "nonce": 0,
        "deadline": 1,
        **overrides,
    }


def _domain(name: str = ANCHOR_REGISTRY_DOMAIN) -> Domain:
    return Domain(name=name, chain_id=1, verifying_contract="0x" + "11" * 20)


def test_typed_action_accepts_exactly_the_fields_of_its_type() -> None:
    TypedAction(primary_type="AnchorBatch", domain=_domain(), message=_anchor_message())


@pytest.mark.parametrize("missing", ["departmentId", "root", "nonce", "deadline"])
def test_typed_action_rejects_a_missing_field(missing: str) -> None:
    message = _anchor_message()
    del message[missing]

    with pytest.raises(ValueError, match="needs exactly"):
        TypedAction(primary_type="AnchorBatch", domain=_domain(), message=message)


def test_typed_action_rejects_an_extra_field() -> None:
    with pytest.raises(ValueError, match="needs exactly"):
        TypedAction(primary_type="AnchorBatch", domain=_domain(), message=_anchor_message(extra=1))


@pytest.mark.parametrize(
    "domain_name", [DATASET_REGISTRY_DOMAIN, ACCESS_REGISTRY_DOMAIN, "provledger.Other"]
)
def test_typed_action_rejects_a_domain_of_another_contract(domain_name: str) -> None:
    with pytest.raises(ValueError, match="signed under"):
        TypedAction(
            primary_type="AnchorBatch", domain=_domain(domain_name), message=_anchor_message()
        )


def test_typed_action_rejects_an_unknown_primary_type() -> None:
    with pytest.raises(ValueError, match="unknown action type"):
        TypedAction(primary_type="DeleteEverything", domain=_domain(), message=_anchor_message())
