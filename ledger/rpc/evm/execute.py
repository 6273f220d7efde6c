"""Running one ``eth_call`` on py-evm, as geth runs it, with a deadline inside the EVM loop.

Geth's rules for a call (``internal/ethapi``): the call executes on top of the block's state, in
that block's context; the nonce is not checked; with no fee given, the gas price is 0 and the
block's base fee is treated as 0 (``BASEFEE`` reads 0 too), so any sender, the zero address
included, can call without a balance; with fees given, the fee cap must reach the base fee and
the sender must afford ``gas * price + value``. The gas must cover the intrinsic gas and the
EIP-7623 calldata floor.

The deadline: py-evm charges gas through ``Computation.consume_gas`` before every opcode. A
subclass checks a monotonic deadline there (every 1,024 charges, so the check costs little) and
raises :class:`DeadlineExceededError`, which is not a ``VMError``: py-evm's frames do not catch
it as an EVM failure, so it unwinds the whole call stack at once. A precompile that computes for
long without charging gas again is the worker's parent's to stop (it kills the worker).
"""

from __future__ import annotations

import functools
import importlib
import time
from typing import Any, Final

from eth.db.chain import ChainDB
from eth.exceptions import (
    ContractCreationCollision,
    FullStack,
    InsufficientFunds,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfBoundsRead,
    OutOfGas,
    Revert,
    StackDepthLimit,
    VMError,
    WriteProtection,
)
from eth.vm.chain_context import ChainContext
from eth.vm.spoof import SpoofTransaction
from eth_typing import Hash32

from ledger.rpc.evm.job import CallJob, CallOutcome

#: Gas charges between two looks at the clock.
_CHECK_EVERY: Final = 1_024

#: geth's words for EVM errors other than a revert (core/vm/errors.go).
_VM_ERRORS: Final[tuple[tuple[type[VMError], str], ...]] = (
    (OutOfGas, "out of gas"),
    (InvalidInstruction, "invalid opcode"),
    (InvalidJumpDestination, "invalid jump destination"),
    (InsufficientStack, "stack underflow"),
    (FullStack, "stack limit reached 1024"),
    (StackDepthLimit, "max call depth exceeded"),
    (InsufficientFunds, "insufficient balance for transfer"),
    (WriteProtection, "write protection"),
    (ContractCreationCollision, "contract address collision"),
    (OutOfBoundsRead, "return data out of bounds"),
)


class DeadlineExceededError(Exception):
    """The call ran past its deadline (deliberately not a ``VMError``: see the module doc)."""


class _Clock:
    """The running call's deadline. One call runs at a time in a worker, so one clock will do."""

    deadline = float("inf")
    countdown = _CHECK_EVERY

    @classmethod
    def start(cls, seconds: float) -> None:
        cls.deadline = time.monotonic() + seconds
        cls.countdown = _CHECK_EVERY

    @classmethod
    def tick(cls) -> None:
        cls.countdown -= 1
        if cls.countdown <= 0:
            cls.countdown = _CHECK_EVERY
            if time.monotonic() > cls.deadline:
                raise DeadlineExceededError


@functools.cache
def _timed_state_class(state_class: Any) -> Any:
    """``state_class`` whose computations check the clock on every gas charge."""
    base = state_class.computation_class

    class TimedComputation(base):  # type: ignore[misc,valid-type]
        def consume_gas(self, amount: int, reason: str) -> None:
            _Clock.tick()
            super().consume_gas(amount, reason)

    name = f"Timed{state_class.__name__}"
    return type(name, (state_class,), {"computation_class": TimedComputation})


@functools.cache
def vm_class(path: str) -> Any:
    """A py-evm VM class by its dotted path; only py-evm's own forks are importable here."""
    module, _, name = path.rpartition(".")
    if not module.startswith("eth.vm.forks."):
        raise ValueError(f"not a py-evm fork: {path}")
    return getattr(importlib.import_module(module), name)


def _transaction(vm: Any, job: CallJob, nonce: int) -> Any:
    builder = vm.get_transaction_builder()
    to = bytes.fromhex(job.to) if job.to is not None else b""
    common: dict[str, Any] = {
        "nonce": nonce,
        "gas": job.gas,
        "to": to,
        "value": job.value,
        "data": bytes.fromhex(job.data),
    }
    access = [(bytes.fromhex(a), [int(k, 16) for k in keys]) for a, keys in job.access_list or []]
    if job.authorization_list is not None or job.max_fee_per_gas is not None:
        fee_cap = job.max_fee_per_gas or 0
        common.update(
            chain_id=job.chain_id,
            max_fee_per_gas=fee_cap,
            max_priority_fee_per_gas=min(job.max_priority_fee_per_gas or 0, fee_cap),
            access_list=access,
        )
        if job.authorization_list is None:
            return builder.new_unsigned_dynamic_fee_transaction(**common)
        from eth.vm.forks.prague.transactions import Authorization

        common["authorization_list"] = [
            Authorization(chain_id, bytes.fromhex(address), nonce_, y_parity, r, s)
            for chain_id, address, nonce_, y_parity, r, s in job.authorization_list
        ]
        return builder.new_unsigned_set_code_transaction(**common)
    common["gas_price"] = job.gas_price or 0
    if job.access_list is not None:
        return builder.new_unsigned_access_list_transaction(chain_id=job.chain_id, **common)
    return builder.create_unsigned_transaction(**common)


def _calldata_floor(data: bytes) -> int:
    # EIP-7623: 21,000 + 10 gas per token, a zero byte one token, any other byte four.
    zeros = data.count(0)
    return 21_000 + 10 * (zeros + 4 * (len(data) - zeros))


def execute(db: Any, job: CallJob) -> CallOutcome:
    """Run ``job`` against the state in ``db`` (read-only; nothing is written back)."""
    vm = vm_class(job.vm)
    header = ChainDB(db).get_block_header_by_hash(Hash32(bytes.fromhex(job.block_hash)))
    base_fee = int(getattr(header, "base_fee_per_gas", 0) or 0)
    context_header = header
    if not job.has_fees and hasattr(header, "base_fee_per_gas"):
        context_header = header.copy(base_fee_per_gas=0)
    previous = vm.get_prev_hashes(header.parent_hash, ChainDB(db))
    context = vm.create_execution_context(context_header, previous, ChainContext(job.chain_id))
    state = _timed_state_class(vm.get_state_class())(db, context, header.state_root)

    sender = bytes.fromhex(job.sender)
    tx = SpoofTransaction(_transaction(vm, job, state.get_nonce(sender)), from_=sender)
    refused = _check(state, tx, job, base_fee)
    if refused is not None:
        return CallOutcome(status="error", message=refused)
    executor = state.get_transaction_executor()
    _Clock.start(job.timeout)
    try:
        computation = executor.build_computation(executor.build_evm_message(tx), tx)
    except DeadlineExceededError:
        return CallOutcome(status="timeout")
    finally:
        _Clock.start(float("inf"))
    gas_used = job.gas - int(computation.get_gas_remaining())
    if computation.is_success:
        return CallOutcome(status="ok", output=bytes(computation.output), gas_used=gas_used)
    error = computation.error
    if isinstance(error, Revert):
        return CallOutcome(status="revert", output=bytes(computation.output), gas_used=gas_used)
    message = next((words for cls, words in _VM_ERRORS if isinstance(error, cls)), "")
    return CallOutcome(status="error", message=message or "execution failed", gas_used=gas_used)


def _check(state: Any, tx: Any, job: CallJob, base_fee: int) -> str | None:
    """geth's pre-execution checks of a call, as messages (None: the call may run)."""
    intrinsic = int(tx.intrinsic_gas)
    if job.gas < intrinsic:
        return f"intrinsic gas too low: have {job.gas}, want {intrinsic}"
    floor = _calldata_floor(bytes.fromhex(job.data))
    if job.gas < floor:
        return f"insufficient gas for floor data gas cost: have {job.gas}, want {floor}"
    price = 0
    if job.has_fees:
        fee_cap = job.gas_price if job.gas_price is not None else (job.max_fee_per_gas or 0)
        if fee_cap < base_fee:
            return (
                f"max fee per gas less than block base fee: address 0x{job.sender}, "
                f"maxFeePerGas: {fee_cap}, baseFee: {base_fee}"
            )
        price = int(state.get_gas_price(tx))
    balance = int(state.get_balance(bytes.fromhex(job.sender)))
    wanted = job.gas * price + job.value
    if balance < wanted:
        return (
            f"insufficient funds for gas * price + value: address 0x{job.sender} "
            f"have {balance} want {wanted}"
        )
    return None


__all__ = ["DeadlineExceededError", "execute", "vm_class"]
