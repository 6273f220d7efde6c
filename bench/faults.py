"""The service against a misbehaving chain: reorgs deeper than K, lost tips, outages, a stalled
head. How long until every acknowledged write is settled again, and what was accepted meanwhile.

Each drill runs ``python -m api serve`` of this checkout on an anvil node of its own that mines a
block every second (``--block-time 1``; ``--slots-in-an-epoch 4``: the node's finalized block is
8 behind its head), with K = 3 confirmations, a department registering a dataset every
``--interval`` seconds throughout, and then breaks the node:

* ``reorg-D``: ``anvil_reorg [D, []]``, the last D blocks replaced by empty ones;
* ``rollback-D``: ``anvil_rollback D``, the last D blocks gone;
* ``kill-N``: the node's state saved, N more blocks mined, ``SIGKILL``, restarted from the saved
  state (its last N blocks lost, as a node restarted from a backup or a ``--state-interval``);
* ``outage``: the node killed (nothing lost) and restarted ``--outage`` seconds later; writes
  go on meanwhile;
* ``pause``: mining paused for ``--pause`` seconds;
* ``none``: nothing broken, the baseline of the same run.

After each, once settled, the promises are checked (a violation exits 1): every acknowledged
write ended confirmed exactly once on the canonical chain or failed with a named reason; none is
confirmed without its receipt on chain; the service's account has no nonce gap and nothing
waits in the node's queue; the index equals a fresh index of the chain; no answer was a 5xx
other than 503. Printed: seconds from the end of the fault until every write acknowledged by then
was settled (``recovered_after``; a write needs K blocks, ~3 s, even with no fault), writes
accepted during it (and how many were deferred), and the readiness seen during it.

    python bench/faults.py                      # every drill, full length (~6 min)
    python bench/faults.py --quick              # a few short drills (~2 min)
    python bench/faults.py --drill reorg-5 --drill outage
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx2
from _service import REPO, enrol_department, serve
from hexbytes import HexBytes
from sqlalchemy import create_engine, select

sys.path.insert(0, str(REPO))

from ledger.chain.anvil import AnvilNode
from ledger.chain.backend import Chain
from ledger.chain.deploy import Ledger
from ledger.config import Settings
from ledger.db import make_engine
from ledger.index import Indexer
from ledger.index.models import EVENTS
from ledger.runtime import service_account

K = 3
BLOCK_TIME = 1
STALL_BLOCKS = 5
#: anvil's finalized block is 2 epochs behind its head: 8 blocks, deeper than any drilled reorg.
SLOTS_IN_AN_EPOCH = 4


@dataclass
class Report:
    drill: str
    #: Seconds from the end of the fault until every write acknowledged by then was settled,
    #: and until every write of the drill was (those sent after the fault included).
    recovered_after: float = 0.0
    settled_after: float = 0.0
    acknowledged: int = 0
    during_fault: int = 0  # writes acknowledged while the fault lasted
    deferred: int = 0  # of which were deferred (the chain unreachable)
    outcomes: Counter[str] = field(default_factory=Counter)
    readiness: Counter[str] = field(default_factory=Counter)  # /readyz answers during the fault
    statuses: Counter[int] = field(default_factory=Counter)  # every HTTP answer of the drill
    reorged: int = 0
    #: Seconds from killing the node until /readyz said so.
    noticed_after: float | None = None
    #: Every read endpoint asked once while the node was down: path -> status.
    reads_while_down: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)


class Node:
    """An anvil node that can be killed and brought back on the same port."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.args = ("--block-time", str(BLOCK_TIME), "--slots-in-an-epoch", str(SLOTS_IN_AN_EPOCH))
        self.anvil = AnvilNode(extra_args=self.args).start()
        self.port = self.anvil.port
        self.chain = Chain.rpc(self.anvil.url, expected_chain_id=self.anvil.chain_id)

    @property
    def url(self) -> str:
        return self.anvil.url

    def rpc(self, method: str, *params: Any) -> Any:
        return self.chain._rpc(method, list(params))

    def head(self) -> int:
        return int(self.chain.w3.eth.block_number)

    def save(self) -> Path:
        """The node's state now, in a file ``--load-state`` takes; ``saved_head`` its head."""
        path = self.work / f"state-{time.monotonic_ns()}.json"
        state = gzip.decompress(HexBytes(self.rpc("anvil_dumpState")))
        path.write_bytes(state)
        self.saved_head = int(json.loads(state)["block"]["number"], 16)
        return path

    def kill(self) -> None:
        """SIGKILL, after saving the state (``save_path``) for a restart that loses nothing."""
        self.save_path = self.save()
        self.kill_only()

    def kill_only(self) -> None:
        process = self.anvil._process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()
        self.anvil._process = None

    def restart(self, state: Path) -> None:
        self.anvil = AnvilNode(port=self.port, extra_args=(*self.args, "--load-state", str(state)))
        self.anvil.start()

    def stop(self) -> None:
        self.anvil.stop()


class Ack(NamedTuple):
    """A write the service acknowledged: when it was sent and answered, its operation."""

    sent: float
    answered: float
    op: str
    deferred: bool


class Writer(threading.Thread):
    """A department registering a dataset every ``interval`` seconds; every answer noted."""

    def __init__(self, base: str, token: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.client = httpx2.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )
        self.interval = interval
        self.stop = threading.Event()
        self.acknowledged: list[Ack] = []
        self.statuses: Counter[int] = Counter()
        self._count = 0

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self._count += 1
            body = {
                "content_hash": "0x" + os.urandom(32).hex(),
                "metadata": {"title": f"drill {self._count}"},
            }
            sent = time.monotonic()
            try:
                answer = self.client.post("/v1/datasets", json=body)
            except httpx2.TransportError:
                self.statuses[0] += 1
                continue
            self.statuses[answer.status_code] += 1
            if answer.status_code == 202:
                payload = answer.json()
                self.acknowledged.append(
                    Ack(
                        sent,
                        time.monotonic(),
                        payload["operation_id"],
                        bool(payload.get("deferred")),
                    )
                )


class Service:
    """The service under drill: its node, its process, a department's token."""

    def __init__(
        self, stack: ExitStack, work: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.work = work
        self.node = Node(work)
        stack.callback(self.node.stop)
        stack.callback(self.node.chain.close)
        self.data_dir = work / "data"
        settings = Settings(data_dir=self.data_dir, rpc_url=self.node.url, chain_id=31337)
        account = service_account(settings)
        self.account = account.address
        self.node.rpc("anvil_setBalance", account.address, hex(10**24))
        ledger = Ledger.deploy(self.node.chain, account)
        self.deployment = ledger.deployment
        settings.resolved_deployment_file.write_text(ledger.deployment.to_json() + "\n")
        env = {
            "PROVLEDGER_RPC_URL": self.node.url,
            "PROVLEDGER_CHAIN_ID": "31337",
            "PROVLEDGER_CONFIRMATIONS": str(K),
            "PROVLEDGER_EXPECTED_BLOCK_TIME": str(BLOCK_TIME),
            "PROVLEDGER_STALL_BLOCKS": str(STALL_BLOCKS),
            "PROVLEDGER_INDEXER_POLL_INTERVAL": "0.25",
            **(extra_env or {}),
        }
        self.base, self.pid = stack.enter_context(serve(self.data_dir, env))
        self.token = enrol_department(self.base, self.data_dir, 1, poll=0.1)
        self.client = httpx2.Client(
            base_url=self.base, timeout=30, headers={"Authorization": f"Bearer {self.token}"}
        )
        stack.callback(self.client.close)
        self.statuses: Counter[int] = Counter()

    def get(self, path: str) -> httpx2.Response:
        answer = self.client.get(path)
        self.statuses[answer.status_code] += 1
        return answer

    def readiness(self) -> str:
        try:
            answer = httpx2.get(f"{self.base}/readyz", timeout=10)
        except httpx2.TransportError:
            return "no answer"
        self.statuses[answer.status_code] += 1
        body = answer.json()
        return body["status"] + (
            "" if not body.get("reasons") else f" ({','.join(body['reasons'])})"
        )

    @contextmanager
    def writing(self, interval: float) -> Iterator[Writer]:
        writer = Writer(self.base, self.token, interval)
        writer.start()
        try:
            yield writer
        finally:
            writer.stop.set()
            writer.join()
            writer.client.close()
            self.statuses.update(writer.statuses)

    def settle(self, op_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until every operation is confirmed (K deep) or failed; each one's last view."""
        deadline = time.monotonic() + timeout
        views: dict[str, dict[str, Any]] = {}
        waiting = list(op_ids)
        while waiting and time.monotonic() < deadline:
            still = []
            for op_id in waiting:
                answer = self.get(f"/v1/operations/{op_id}")
                view = answer.json() if answer.status_code == 200 else {"status": "?"}
                views[op_id] = view
                if view["status"] not in ("confirmed", "failed"):
                    still.append(op_id)
            waiting = still
            if waiting:
                time.sleep(0.25)
        return views


def check(service: Service, views: dict[str, dict[str, Any]], report: Report) -> None:
    """The promises, against the chain alone (and the service's index)."""
    w3 = service.node.chain.w3
    confirmed_datasets: list[str] = []
    for op_id, view in views.items():
        status = view["status"]
        report.outcomes[status if status != "failed" else f"failed: {view['error']['code']}"] += 1
        report.reorged += int(view.get("reorged") or 0)
        if status == "failed":
            if not (view.get("error") or {}).get("code"):
                report.violations.append(f"{op_id} failed without a reason")
            continue
        if status != "confirmed":
            report.violations.append(f"{op_id} not settled: {status}")
            continue
        tx = view["chain"]["tx_hash"]
        receipt = w3.eth.get_transaction_receipt(tx) if tx else None
        if receipt is None or receipt["status"] != 1:
            report.violations.append(f"{op_id} confirmed but its transaction {tx} is not on chain")
            continue
        canonical = w3.eth.get_block(receipt["blockNumber"])["hash"]
        if (
            canonical != receipt["blockHash"]
            or HexBytes(canonical).to_0x_hex() != view["chain"]["block_hash"]
        ):
            report.violations.append(f"{op_id} confirmed in a block not on the canonical chain")
        confirmed_datasets.append(view["result"]["dataset_id"])
    # Exactly once: one DatasetCreated per confirmed registration, none for anything else.
    ledger = Ledger(service.node.chain, service.deployment)
    created = ledger.datasets.contract.events.DatasetCreated().get_logs(from_block=0)
    on_chain = Counter("0x" + bytes(e["args"]["datasetId"]).hex() for e in created)
    if sorted(on_chain) != sorted(confirmed_datasets) or any(n != 1 for n in on_chain.values()):
        report.violations.append(
            f"{len(confirmed_datasets)} registrations confirmed, {sum(on_chain.values())} "
            f"DatasetCreated events on chain ({len(on_chain)} datasets)"
        )
    # No nonce gap, nothing parked.
    latest = w3.eth.get_transaction_count(service.account, "latest")
    pending = w3.eth.get_transaction_count(service.account, "pending")
    queued = int(service.node.rpc("txpool_status")["queued"], 16)
    if pending != latest or queued:
        report.violations.append(f"nonces: latest {latest}, pending {pending}, queued {queued}")
    _check_index(service, report)
    bad = {s: n for s, n in service.statuses.items() if s >= 500 and s != 503}
    if bad:
        report.violations.append(f"5xx answers: {bad}")
    report.statuses = service.statuses


def _check_index(service: Service, report: Report) -> None:
    """The service's index equals a fresh index of the chain, up to the block both reached."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = httpx2.get(f"{service.base}/readyz", timeout=10).json()
        if ready["checks"]["indexer"].get("lag_blocks", 99) <= 1:
            break
        time.sleep(0.25)
    fresh_db = service.work / f"fresh-{time.monotonic_ns()}.db"
    fresh = make_engine(f"sqlite:///{fresh_db}")
    Indexer(ledger=Ledger(service.node.chain, service.deployment), engine=fresh).sync()
    served = create_engine(f"sqlite:///{service.data_dir / 'provledger.db'}")
    columns = [
        EVENTS.c.block_number,
        EVENTS.c.log_index,
        EVENTS.c.block_hash,
        EVENTS.c.tx_hash,
        EVENTS.c.event,
    ]
    with served.connect() as a, fresh.connect() as b:
        theirs = a.execute(select(*columns).order_by(*columns[:2])).all()
        top = max((row[0] for row in theirs), default=0)
        ours = b.execute(
            select(*columns).where(EVENTS.c.block_number <= top).order_by(*columns[:2])
        ).all()
    served.dispose()
    fresh.dispose()
    if [tuple(r) for r in theirs] != [tuple(r) for r in ours]:
        report.violations.append(
            f"index differs from a fresh reindex: {len(theirs)} events vs {len(ours)}"
        )


# --- the drills -----------------------------------------------------------------------------


def run_drill(name: str, work: Path, *, interval: float, outage: float, pause: float) -> Report:
    report = Report(name)
    with ExitStack() as stack:
        service = Service(stack, work)
        with service.writing(interval) as writer:
            time.sleep(6)  # some writes confirmed, some in flight, when the fault strikes
            fault_started = time.monotonic()
            ended = _fault(name, service, report, writer, outage=outage, pause=pause)
            # Recovery: everything acknowledged until the fault ended settles (writes go on).
            before_end = [ack.op for ack in writer.acknowledged if ack.answered <= ended]
            service.settle(before_end, timeout=120)
            report.recovered_after = round(time.monotonic() - ended, 1)
            time.sleep(max(0.0, ended + 3 - time.monotonic()))  # writes go on after the fault
        ops = [ack.op for ack in writer.acknowledged]
        report.acknowledged = len(ops)
        # Sent and answered within the fault: a request already on its way when it struck may
        # have passed its checks against the chain before the node went.
        during = [
            ack
            for ack in writer.acknowledged
            if fault_started <= ack.sent and ack.answered <= ended
        ]
        report.during_fault = len(during)
        report.deferred = sum(1 for ack in during if ack.deferred)
        views = service.settle(ops, timeout=120)
        report.settled_after = round(time.monotonic() - ended, 1)
        check(service, views, report)
    return report


def _fault(
    name: str, service: Service, report: Report, writer: Writer, *, outage: float, pause: float
) -> float:
    """Break the node as ``name`` says; when the fault ended (monotonic)."""
    node = service.node
    kind, _, arg = name.partition("-")
    if kind == "none":
        pass  # the baseline: what settling takes with nothing broken
    elif kind in ("reorg", "rollback"):
        depth = int(arg)
        if depth > K:
            _hold_until_a_confirmed_write_is_within(service, writer, depth)
        if kind == "reorg":
            node.rpc("anvil_reorg", depth, [])
        else:
            node.rpc("anvil_rollback", depth)
        node.rpc("evm_setIntervalMining", BLOCK_TIME)
    elif kind == "kill":
        state = node.save()
        while node.head() < node.saved_head + int(arg):
            time.sleep(0.05)
        node.kill_only()
        node.restart(state)
    elif kind == "outage":
        node.rpc("evm_setIntervalMining", 0)  # nothing mined after the save: nothing lost
        node.kill()
        down = time.monotonic()
        while "chain-unreachable" not in service.readiness() and time.monotonic() < down + 10:
            time.sleep(0.1)  # the service notices within a poll of its head watch
        report.noticed_after = round(time.monotonic() - down, 2)
        report.reads_while_down = probe_reads(service, writer.acknowledged[0].op)
        _watch_readiness(service, report, outage)
        node.restart(node.save_path)
    elif kind == "pause":
        node.rpc("evm_setIntervalMining", 0)
        _watch_readiness(service, report, pause)
        node.rpc("evm_setIntervalMining", BLOCK_TIME)
    else:
        raise SystemExit(f"unknown drill {name!r}")
    return time.monotonic()


def _hold_until_a_confirmed_write_is_within(service: Service, writer: Writer, depth: int) -> None:
    """Stop the node's clock at a head whose last ``depth`` blocks hold a write the service has
    already called confirmed, so that the fault undoes a confirmed write by construction (on a
    loaded machine the relayer may otherwise be a block or two behind, and a drill meant to undo
    confirmed writes would undo only submitted ones). Blocks are mined one at a time until then;
    the caller resumes interval mining after striking."""
    node = service.node
    node.rpc("evm_setIntervalMining", 0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        head = node.head()
        for op_id in [ack.op for ack in writer.acknowledged[-4 * depth :]]:
            view = service.get(f"/v1/operations/{op_id}").json()
            block = (view.get("chain") or {}).get("block_number")
            if view.get("status") == "confirmed" and block is not None and block > head - depth:
                return
        time.sleep(1.0)  # the relayer sees the head and marks what is K deep
        if node.head() == head:
            node.rpc("evm_mine")
    raise SystemExit(f"no confirmed write within the last {depth} blocks after 60 s")


def probe_reads(service: Service, operation_id: str) -> dict[str, int]:
    """Ask every read of the API once (each GET of the OpenAPI document, verify, /rpc), with
    real ids where one is known; the status of each."""
    paths = httpx2.get(f"{service.base}/openapi.json", timeout=10).json()["paths"]
    datasets = service.get("/v1/datasets").json().get("items") or [{}]
    dataset = datasets[0].get("dataset_id", "0x" + "11" * 32)
    params = {
        "dataset_id": dataset,
        "number": "1",
        "department_id": "1",
        "request_id": "0x" + "22" * 32,
        "operation_id": operation_id,
        "token_id": "tok_" + "0" * 32,
    }
    seen: dict[str, int] = {}
    for path, operations in sorted(paths.items()):
        if "get" not in operations or path in ("/docs", "/redoc", "/openapi.json"):
            continue
        concrete = path
        for name, value in params.items():
            concrete = concrete.replace("{" + name + "}", value)
        answer = service.get(concrete)
        seen[f"GET {path}"] = answer.status_code
        if path.startswith("/v1/") and answer.headers.get("provledger-chain") != "unavailable":
            seen[f"GET {path} (no Provledger-Chain: unavailable)"] = answer.status_code
        if path == "/v1/operations/{operation_id}" and answer.status_code == 200:
            assert answer.json()["chain_available"] is False, answer.json()
    verify = service.client.post("/v1/verify", json={"content_hash": "0x" + "33" * 32})
    seen["POST /v1/verify"] = verify.status_code
    rpc = service.client.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
    seen["POST /rpc"] = rpc.status_code
    service.statuses.update([verify.status_code, rpc.status_code])
    return seen


def _watch_readiness(service: Service, report: Report, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report.readiness[service.readiness()] += 1
        time.sleep(0.5)


ALL = ["none", "reorg-1", f"reorg-{K}", f"reorg-{K + 2}", f"rollback-{K}", f"rollback-{K + 2}",
       "kill-0", "kill-2", "kill-5", "outage", "pause"]  # fmt: skip
QUICK = ["none", f"reorg-{K + 2}", f"rollback-{K}", "kill-4", "outage"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drill", action="append", help=f"one of {', '.join(ALL)}")
    parser.add_argument("--quick", action="store_true", help="a few drills, shorter faults")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between writes")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the node is down")
    parser.add_argument("--pause", type=float, default=60.0, help="seconds mining is paused")
    args = parser.parse_args()
    drills = args.drill or (QUICK if args.quick else ALL)
    outage, pause = (10.0, 15.0) if args.quick else (args.outage, args.pause)
    failed = False
    print(f"K={K}, a block every {BLOCK_TIME} s, a write every {args.interval} s")
    for name in drills:
        with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as tmp:
            work = Path(os.environ.get("FAULTS_KEEP") or tmp) / name
            work.mkdir(parents=True, exist_ok=True)
            report = run_drill(name, work, interval=args.interval, outage=outage, pause=pause)
        failed |= bool(report.violations)
        print(json.dumps({**vars(report), "outcomes": dict(report.outcomes),
                          "readiness": dict(report.readiness),
                          "statuses": dict(report.statuses)}), flush=True)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
