"""The one place configuration is read: environment variables prefixed ``PROVLEDGER_``.

With nothing set, provledger runs on the embedded default: a durable in-process chain and a
SQLite database inside ``./.provledger``. Setting ``PROVLEDGER_RPC_URL`` switches to an external
chain (e.g. a Besu/QBFT consortium node), ``PROVLEDGER_DATABASE_URL`` to PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Group = TypeVar("Group")


class Settings(BaseSettings):
    """Service configuration; every field can be set as ``PROVLEDGER_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PROVLEDGER_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        Path(".provledger"), description="Where the embedded chain, SQLite and keys live."
    )
    rpc_url: str | None = Field(
        None, description="JSON-RPC URL of an external chain; unset = embedded chain."
    )
    chain_id: int | None = Field(
        None, description="Chain id the service expects; it refuses any other."
    )
    deployment_file: Path | None = Field(
        None,
        description="Deployment record (addresses, start block); default in the data dir",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; unset = SQLite in the data dir."
    )
    confirmations: int = Field(
        1, ge=1, le=1000, description="Blocks (K) after which a write is confirmed."
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    keystore_passphrase: SecretStr | None = Field(
        None,
        description="Passphrase of the custodial keystores; unset = a generated secret file",
    )
    keystore_scrypt_n: int | None = Field(
        None, ge=2, description="scrypt cost N for new custodial keystores; unset = eth-account's"
    )
    finality_depth: int = Field(
        64,
        ge=0,
        le=100_000,
        description="Blocks after which a block counts as final on a node that does not answer "
        "the `finalized` block tag (one that does is believed). Confirmed operations are "
        "watched until final: a deeper reorg sends them back to submitted.",
    )
    expected_block_time: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="Seconds between blocks the chain produces on its own (e.g. 2 for a QBFT "
        "network with blockperiodseconds 2); 0 = blocks only when there are transactions "
        "(the embedded chain, anvil without --block-time), so a still head is no fault.",
    )
    stall_blocks: int = Field(
        10,
        ge=2,
        le=10_000,
        description="/readyz reports degraded when the head has not moved for this many "
        "expected block times.",
    )
    relayer_stuck_after: float = Field(
        120.0,
        gt=0,
        le=86_400,
        description="/readyz reports degraded when a sent transaction has waited this many "
        "seconds (at least K + stall_blocks block times) without settling.",
    )
    outage_writes: Literal["queue", "refuse"] = Field(
        "queue",
        description="Writes while the chain is unreachable: queue (202, checked and sent when "
        "it returns; refused then with the contract's reason) or refuse (503).",
    )
    relayer_poll_interval: float = Field(0.2, gt=0, le=60)
    indexer_poll_interval: float = Field(0.5, gt=0, le=60)
    batch_max_records: int = Field(
        1_000,
        ge=1,
        le=1_000_000,
        description="Batched anchoring: flush a department's batch at this many records.",
    )
    batch_max_age: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="Batched anchoring: flush a department's batch when its oldest record "
        "has waited this many seconds.",
    )
    http_threads: int = Field(
        40,
        ge=4,
        le=1000,
        description="Threads for the blocking part of requests (SQL, chain reads); the "
        "database pool is sized from it so no request waits on another's connection.",
    )
    db_pool_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds a request waits for a database connection before a 503.",
    )
    max_upload_bytes: int = Field(
        10 * 1024**3, ge=1, description="Largest file accepted for hashing."
    )
    max_sealed_bytes: int = Field(
        64 * 1024**3, ge=1, description="Largest sealed blob accepted into the blob store."
    )
    blob_store: str | None = Field(
        None,
        pattern=r"^s3://[^/]+(/.*)?$",
        description="Where sealed bytes are kept: unset = the data directory; "
        "s3://bucket[/prefix] = any S3-compatible store, with region and credentials from the "
        "standard AWS variables (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY…).",
    )
    blob_store_endpoint: str | None = Field(
        None,
        pattern=r"^https?://",
        description="URL of the S3-compatible service (MinIO, Ceph…), addressed path-style; "
        "unset = AWS's endpoint for the region (or AWS_ENDPOINT_URL_S3).",
    )
    rpc_access: Literal["open", "token"] | None = Field(
        None,
        description="Who may use /rpc: open (anyone who reaches the port) or token (any valid "
        "API token as Authorization: Bearer); unset = open when the service listens on "
        "loopback only, token otherwise.",
    )
    public_reads: Literal["open", "token"] | None = Field(
        None,
        description="Who may read what the chain records (datasets, versions, lineage, "
        "provenance, departments, grants, verdicts of on-chain registrations) without a token: "
        "open (anyone who reaches the port) or token; unset = as /rpc (what these reads show "
        "is what /rpc serves).",
    )
    rpc_gas_cap: int = Field(
        50_000_000,
        ge=21_000,
        description="Gas of an eth_call on /rpc that names none, and the most one may use "
        "(more is clamped to it), as geth's RPCGasCap.",
    )
    rpc_evm_timeout: float = Field(
        5.0,
        gt=0,
        le=600,
        description="Seconds of EVM execution one /rpc request may use in all, batch or not, "
        "as geth's RPCEVMTimeout.",
    )
    rpc_evm_workers: int = Field(
        1, ge=1, le=64, description="Worker processes that run eth_call for /rpc."
    )
    rpc_max_logs: int = Field(
        10_000, ge=1, le=1_000_000, description="Most logs one eth_getLogs answer may hold."
    )
    # --- what hostile clients may cost the service (api/guard.py, api/server.py) ---
    max_json_bytes: int = Field(
        1024**2, ge=1024, description="Largest JSON body (and any body not an upload)."
    )
    max_bulk_json_bytes: int = Field(
        32 * 1024**2,
        ge=1024,
        description="Largest body of POST /v1/datasets/batch (10,000 records, ~3 KB each).",
    )
    max_rpc_json_bytes: int = Field(
        5 * 1024**2,
        ge=1024,
        description="Largest body of POST /rpc (batches of up to 100 calls, with bytecode).",
    )
    max_json_depth: int = Field(
        32,
        ge=4,
        le=1000,
        description="Deepest nesting of arrays and objects in any JSON read from a client.",
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Seconds a request's headers may take to arrive, from the connection's "
        "opening or the previous response, however slowly their bytes trickle.",
    )
    body_idle_timeout: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Seconds a request body may stall (no byte received) before the "
        "connection is closed.",
    )
    max_connections: int = Field(
        4096,
        ge=1,
        description="Open connections served at once; new ones beyond it are closed at once.",
    )
    error_rate: float = Field(
        2.0,
        gt=0,
        le=100_000,
        description="Error answers (4xx) a client may get per second, on average, before it "
        "is refused with 429 until its budget refills (api/throttle.py).",
    )
    error_burst: float = Field(
        30.0,
        ge=1,
        le=1_000_000,
        description="Error answers a client may get in a row before the rate applies.",
    )
    max_header_bytes: int = Field(
        16 * 1024,
        ge=1024,
        le=1024**2,
        description="Largest request line and headers of one request.",
    )

    def group(self, group: type[Group], *, prefix: str = "") -> Group:
        """The dataclass ``group`` with each field taken from the setting of its name (after
        ``prefix``): the part that uses a few related settings receives them as one value, and a
        setting added to both is handed on without another line to keep in step. A field with
        no setting of its name keeps its default."""
        values: dict[str, Any] = {
            field.name: getattr(self, prefix + field.name)
            for field in dataclasses.fields(group)  # type: ignore[arg-type]
            if prefix + field.name in type(self).model_fields
        }
        return group(**values)

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'provledger.db').resolve()}"

    @cached_property
    def resolved_deployment_file(self) -> Path:
        return self.deployment_file or self.data_dir / "deployment.json"

    @property
    def uses_embedded_chain(self) -> bool:
        return self.rpc_url is None

    @property
    def resolved_rpc_access(self) -> Literal["open", "token"]:
        """``rpc_access``, or its default: open on loopback, token on any other interface."""
        if self.rpc_access is not None:
            return self.rpc_access
        if self.host == "localhost":
            return "open"
        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False  # a host name: it may resolve to anything
        return "open" if loopback else "token"

    @property
    def resolved_public_reads(self) -> Literal["open", "token"]:
        """``public_reads``, or its default: as ``/rpc`` (:attr:`resolved_rpc_access`), whose
        chain holds everything these reads show to a caller without a token."""
        return self.public_reads or self.resolved_rpc_access
