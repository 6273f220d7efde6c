"""Plumbing shared by the contract clients: calls, transactions, events, EIP-712 signing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.types import BlockIdentifier

from ledger.artifacts import load_artifact
from ledger.chain.abi_json import canonical_type
from ledger.chain.backend import Chain, Receipt
from ledger.chain.event_abi import EventDecoder
from ledger.chain.storage import StructMapping, struct_mapping
from ledger.chain.types import (
    Authorization,
    Event,
)
from ledger.eip712 import ACTION_DOMAINS, Domain, TypedAction


class ContractClient:
    """Common plumbing: the web3 contract object, calls, transactions and event decoding."""

    artifact_name = ""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.address = chain.w3.to_checksum_address(address)
        artifact = load_artifact(self.artifact_name)
        self.contract = chain.w3.eth.contract(address=self.address, abi=artifact.abi)
        self._storage_layout = artifact.storage_layout
        self._functions = {
            keccak(text=f"{f['name']}({','.join(canonical_type(i) for i in f['inputs'])})")[:4]: f
            for f in artifact.abi
            if f["type"] == "function"
        }
        self._mappings: dict[str, StructMapping] = {}
        self._events = {
            keccak(text=f"{e['name']}({','.join(canonical_type(i) for i in e['inputs'])})"): e
            for e in artifact.abi
            if e["type"] == "event"
        }
        self._decoders = {topic: EventDecoder(abi) for topic, abi in self._events.items()}

    def _send(self, function: Any, sender: LocalAccount) -> Receipt:
        return self.chain.transact(function, sender)

    def _view(self, function: Any) -> Any:
        return self.chain.call(lambda: function.call())

    def _stored(
        self, variable: str, key: bytes | int, block: BlockIdentifier = "latest"
    ) -> dict[str, Any]:
        """The struct ``variable[key]`` read from this contract's storage at ``block``: what
        the matching view answers, without running the contract (``eth_getStorageAt``)."""
        return self.storage_mapping(variable).read(
            key, lambda slot: self.chain.storage_at(self.address, slot, block)
        )

    def storage_mapping(self, variable: str) -> StructMapping:
        """Where the ``mapping(key => struct)`` ``variable`` keeps its entries (bulk readers
        fetch the slots themselves, many in one batch)."""
        mapping = self._mappings.get(variable)
        if mapping is None:
            mapping = self._mappings[variable] = struct_mapping(self._storage_layout, variable)
        return mapping

    def decode_call(self, data: bytes | str) -> tuple[str, dict[str, Any]]:
        """The function a transaction's input calls, and its arguments by name (structs as
        tuples). A table of selectors, built once: web3's ``decode_function_input`` hashes
        every function's signature on every call to find the one."""
        raw = bytes(HexBytes(data))
        abi = self._functions.get(raw[:4])
        if abi is None:
            raise ValueError(f"no function of {self.artifact_name} has selector 0x{raw[:4].hex()}")
        values = self.chain.w3.codec.decode([canonical_type(i) for i in abi["inputs"]], raw[4:])
        return str(abi["name"]), {i["name"]: v for i, v in zip(abi["inputs"], values, strict=True)}

    def event_topic(self, name: str) -> bytes:
        """The topic 0 of this contract's event ``name`` (its signature's keccak-256)."""
        for topic, abi in self._events.items():
            if abi["name"] == name:
                return topic
        raise ValueError(f"{self.artifact_name} has no event {name!r}")

    def event_name(self, log: Any) -> str | None:
        """The name of the event ``log`` is, if this contract emitted it; nothing decoded.
        The log's address may be in any case."""
        if str(log["address"]).lower() != self.address.lower() or not log["topics"]:
            return None
        abi = self._events.get(bytes(log["topics"][0]))
        return None if abi is None else str(abi["name"])

    def decode_events(self, logs: Any) -> list[Event]:
        """This contract's events among ``logs`` (a receipt's logs or ``eth_getLogs`` results)."""
        decoded = []
        for log in logs:
            if log["address"] != self.address or not log["topics"]:
                continue
            decoder = self._decoders.get(bytes(log["topics"][0]))
            if decoder is None:
                continue
            decoded.append(
                Event(
                    name=decoder.name,
                    args=decoder.decode(log["topics"], log["data"]),
                    address=self.address,
                    tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
                    block_number=log["blockNumber"],
                    block_hash=HexBytes(log["blockHash"]).to_0x_hex(),
                    log_index=log["logIndex"],
                )
            )
        return decoded


@dataclass(frozen=True)
class Signing:
    """Who signs a department action and what the signature holds besides its fields: the
    department's key and id, the deadline, and the nonce (None: the contract's next one).

    Every ``sign_x`` method takes these four the same way and hands them on as one.
    """

    signer: LocalAccount
    department_id: int
    deadline: int
    nonce: int | None


class SignedActionsClient(ContractClient):
    """A contract that accepts department actions by EIP-712 signature."""

    @property
    def domain(self) -> Domain:
        return Domain(
            name=ACTION_DOMAINS[self._primary_types[0]],
            chain_id=self.chain.chain_id,
            verifying_contract=self.address,
        )

    _primary_types: tuple[str, ...] = ()

    def department_nonce(self, department_id: int) -> int:
        """The nonce the next signature of ``department_id`` on this contract must carry."""
        return int(self._view(self.contract.functions.departmentNonce(department_id)))

    def typed_action(
        self,
        primary_type: str,
        fields: dict[str, Any],
        *,
        department_id: int,
        nonce: int,
        deadline: int,
    ) -> TypedAction:
        """The typed data a department signs for ``primary_type`` on this contract."""
        message = {"departmentId": department_id, **fields, "nonce": nonce, "deadline": deadline}
        return TypedAction(primary_type=primary_type, domain=self.domain, message=message)

    def _act(
        self,
        function: str,
        args: tuple[Any, ...],
        sender: LocalAccount,
        auth: Authorization | None = None,
    ) -> Receipt:
        """Send ``function(*args)`` from ``sender``; with ``auth``, its ``BySig`` form instead,
        which every contract declares with the same arguments and the authorization last."""
        if auth is None:
            return self._send(self.contract.functions[function](*args), sender)
        by_sig = self.contract.functions[f"{function}BySig"]
        return self._send(by_sig(*args, auth.as_abi()), sender)

    def _sign(self, primary_type: str, fields: dict[str, Any], signing: Signing) -> Authorization:
        """``signing``'s authorization of the action ``primary_type`` with ``fields``: the
        typed data bind this contract, its chain and the nonce as well as the fields."""
        nonce = signing.nonce
        if nonce is None:
            nonce = self.department_nonce(signing.department_id)
        action = self.typed_action(
            primary_type,
            fields,
            department_id=signing.department_id,
            nonce=nonce,
            deadline=signing.deadline,
        )
        return Authorization(
            department_id=signing.department_id,
            nonce=nonce,
            deadline=signing.deadline,
            signature=action.sign(signing.signer),
        )
