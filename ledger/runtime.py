"""Everything a running service holds, assembled from :class:`~ledger.config.Settings`.

``Runtime.open`` turns configuration into live parts: the chain (embedded or JSON-RPC, with its
chain id checked), the deployment (deployed on first start of the embedded chain, read from a
record otherwise), the SQL engine, the custodial keystores, the relayer and the indexer. The
HTTP service and the CLI both build on it; it knows nothing of HTTP.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from ledger.anchoring.batcher import Batcher
from ledger.anchoring.receipts import ReceiptBatcher
from ledger.blobs import BlobStore, DirectoryBlobStore, S3BlobStore
from ledger.chain.backend import Chain
from ledger.chain.deploy import Deployment, Ledger
from ledger.chain.head import HeadWatch
from ledger.config import Settings
from ledger.db import create_tables, make_engine
from ledger.errors import ChainMismatchError, ConfigurationError, KeystoreNotFoundError
from ledger.hashing import Digest
from ledger.index import Indexer
from ledger.keys import Keystore
from ledger.relayer import Relayer
from ledger.rpc.client import JsonRpc, json_rpc_for
from ledger.sealing import EncryptionKeyPair, EncryptionKeystore

log = logging.getLogger(__name__)

#: Keystore slot of the service's own account (relayer and, on the embedded chain, governance).
SERVICE_KEY_SLOT = 0


def read_or_create_secret(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600), created on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


def open_blob_store(settings: Settings) -> BlobStore:
    """The blob store ``settings`` names: the data directory's, or an S3-compatible one."""
    if settings.blob_store is None:
        return DirectoryBlobStore(settings.data_dir / "blobs")
    return S3BlobStore.connect(settings.blob_store, endpoint_url=settings.blob_store_endpoint)


@dataclass
class Runtime:
    """The live parts of one service instance."""

    settings: Settings
    chain: Chain
    ledger: Ledger
    engine: Engine
    keystore: Keystore
    passphrase: str
    encryption_keystore: EncryptionKeystore
    blobs: BlobStore
    service_account: LocalAccount
    relayer: Relayer
    indexer: Indexer
    head: HeadWatch = field(init=False)
    batcher: Batcher = field(init=False)
    receipt_batcher: ReceiptBatcher = field(init=False)
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _unlocked: dict[tuple[int, str], LocalAccount] = field(default_factory=dict)
    _unlocked_encryption: dict[tuple[int, bytes], EncryptionKeyPair] = field(default_factory=dict)
    _json_rpc: JsonRpc | None = field(default=None, init=False, repr=False)

    @classmethod
    def assemble(
        cls,
        settings: Settings,
        *,
        chain: Chain,
        deployment: Deployment,
        engine: Engine,
        service_account: LocalAccount,
        passphrase: str,
    ) -> Runtime:
        """Wire already-opened parts together (tests use this with an in-process chain)."""
        if settings.chain_id is not None and settings.chain_id != chain.chain_id:
            raise ChainMismatchError(
                f"configured for chain {settings.chain_id}, the node is chain {chain.chain_id}"
            )
        ledger = Ledger(chain, deployment)
        create_tables(engine)
        keystore = Keystore(settings.data_dir / "keys", iterations=settings.keystore_scrypt_n)
        scrypt = (
            {} if settings.keystore_scrypt_n is None else {"scrypt_n": settings.keystore_scrypt_n}
        )
        runtime = cls(
            settings=settings,
            chain=chain,
            ledger=ledger,
            engine=engine,
            keystore=keystore,
            passphrase=passphrase,
            encryption_keystore=EncryptionKeystore(settings.data_dir / "encryption-keys", **scrypt),
            blobs=open_blob_store(settings),
            service_account=service_account,
            relayer=None,  # type: ignore[arg-type]  # set just below; needs runtime.department_key
            indexer=Indexer(ledger=ledger, engine=engine),
        )
        runtime.relayer = Relayer(
            ledger=ledger,
            engine=engine,
            account=service_account,
            keys=runtime.department_key,
            confirmations=settings.confirmations,
            finality_depth=settings.finality_depth,
        )
        runtime.head = HeadWatch(chain, finality_depth=settings.finality_depth)
        runtime.batcher = Batcher(
            ledger=ledger,
            engine=engine,
            keys=runtime.department_key,
            max_records=settings.batch_max_records,
            max_age=settings.batch_max_age,
        )
        # Delivery receipts are batched as records are, in a queue of their own.
        runtime.receipt_batcher = ReceiptBatcher(
            ledger=ledger,
            engine=engine,
            keys=runtime.department_key,
            max_records=settings.batch_max_records,
            max_age=settings.batch_max_age,
        )
        return runtime

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Open (and on first start, create) everything ``settings`` describes."""
        account = service_account(settings)
        passphrase = _passphrase(settings)
        chain = _open_chain(settings, account)
        deployment = _load_or_deploy(settings, chain, account)
        engine = make_engine(
            settings.resolved_database_url,
            request_threads=settings.http_threads,
            pool_timeout=settings.db_pool_timeout,
        )
        return cls.assemble(
            settings,
            chain=chain,
            deployment=deployment,
            engine=engine,
            service_account=account,
            passphrase=passphrase,
        )

    # --- custody ----------------------------------------------------------------------------

    def department_key(self, department_id: int, address: str | None = None) -> LocalAccount | None:
        """The custodial key of ``department_id`` (with ``address``, that key even if rotated
        away), or None if the service does not hold it: the department holds its own."""
        try:
            if address is None:
                address = self.keystore.address(department_id)
            slot = (department_id, address.lower())
            if slot not in self._unlocked:
                self._unlocked[slot] = self.keystore.unlock(
                    department_id, self.passphrase, address=address
                )
        except KeystoreNotFoundError:
            return None
        return self._unlocked[slot]

    def encryption_key(
        self, department_id: int, fingerprint: Digest | None = None
    ) -> EncryptionKeyPair | None:
        """The custodial encryption key pair of ``department_id`` (with ``fingerprint``, that
        key even if rotated away), or None if the service does not hold it: the department
        holds its own, or has none."""
        try:
            if fingerprint is None:
                fingerprint = self.encryption_keystore.public_key(department_id).fingerprint()
            slot = (department_id, fingerprint.value)
            if slot not in self._unlocked_encryption:
                self._unlocked_encryption[slot] = self.encryption_keystore.unlock(
                    department_id, self.passphrase, fingerprint=fingerprint
                )
        except KeystoreNotFoundError:
            return None
        return self._unlocked_encryption[slot]

    # --- background workers -----------------------------------------------------------------

    @property
    def json_rpc(self) -> JsonRpc:
        """The chain as raw JSON-RPC in batches (bulk readers: audits), made on first use."""
        if self._json_rpc is None:
            self._json_rpc = json_rpc_for(self.chain)
        return self._json_rpc

    def start_workers(self) -> None:
        """Start the relayer, the indexer and the batchers in daemon threads."""
        self._stop.clear()
        self.head.poll()  # readiness and confirmations have a head from the first request on
        workers = (
            ("provledger-head", self.head.run, self.settings.indexer_poll_interval),
            ("provledger-relayer", self.relayer.run, self.settings.relayer_poll_interval),
            ("provledger-indexer", self.indexer.run, self.settings.indexer_poll_interval),
            ("provledger-batcher", self.batcher.run, self.settings.relayer_poll_interval),
            ("provledger-receipts", self.receipt_batcher.run, self.settings.relayer_poll_interval),
        )
        for name, target, interval in workers:
            thread = threading.Thread(
                target=target, args=(self._stop, interval), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop_workers(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def close(self) -> None:
        self.stop_workers()
        self.engine.dispose()
        close_chain = getattr(self.chain, "close", None)
        if close_chain is not None:
            close_chain()


def _passphrase(settings: Settings) -> str:
    if settings.keystore_passphrase is not None:
        return settings.keystore_passphrase.get_secret_value()
    return read_or_create_secret(settings.data_dir / "keystore.secret")


def service_account(settings: Settings) -> LocalAccount:
    """The service's own key (relayer; governance on the embedded chain), created on first use
    in an encrypted keystore in the data directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    passphrase = _passphrase(settings)
    keys = Keystore(settings.data_dir / "service-key", iterations=settings.keystore_scrypt_n)
    try:
        return keys.unlock(SERVICE_KEY_SLOT, passphrase)
    except KeystoreNotFoundError:
        keys.create(SERVICE_KEY_SLOT, passphrase)
        return keys.unlock(SERVICE_KEY_SLOT, passphrase)


#: Gas money for the service key at genesis of the embedded chain (plenty for any local use).
EMBEDDED_SERVICE_FUNDS = 10**24


def _open_chain(settings: Settings, service_account: LocalAccount) -> Chain:
    if settings.rpc_url is not None:
        return Chain.rpc(settings.rpc_url, expected_chain_id=settings.chain_id)
    from ledger.chain.embedded import EmbeddedChain

    return EmbeddedChain.open(
        settings.data_dir / "chain",
        genesis_accounts={service_account.address: EMBEDDED_SERVICE_FUNDS},
    )


def _load_or_deploy(settings: Settings, chain: Chain, service_account: LocalAccount) -> Deployment:
    path = settings.resolved_deployment_file
    if path.exists():
        deployment = Deployment.from_json(path.read_text())
        if deployment.chain_id != chain.chain_id:
            raise ChainMismatchError(
                f"{path} is a deployment on chain {deployment.chain_id}, "
                f"the node is chain {chain.chain_id}"
            )
        return deployment
    if not settings.uses_embedded_chain:
        raise ConfigurationError(
            f"no deployment record at {path}: "
            "run `provledger deploy` or set PROVLEDGER_DEPLOYMENT_FILE"
        )
    ledger = Ledger.deploy(chain, service_account)
    path.write_text(ledger.deployment.to_json() + "\n")
    log.info("deployed the contracts on chain %s; record in %s", chain.chain_id, path)
    return ledger.deployment
