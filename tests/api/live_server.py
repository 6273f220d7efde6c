"""A real provledger service on a loopback port: uvicorn serving the app from a thread.

For tests that need what TestClient cannot give: many requests at once, real sockets, the
server's own protocol handling. Such tests run on an embedded chain (:func:`embedded_runtime`),
never on the session's bare eth-tester chain: concurrent request handlers, relayer and indexer
touch the chain from several threads, which the embedded chain serialises and eth-tester does
not.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from api.app import create_app
from api.server import config as server_config
from ledger.chain.anvil import free_port
from ledger.config import Settings
from ledger.runtime import Runtime


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a service on its own embedded chain and SQLite, quick for tests."""
    defaults: dict[str, Any] = {
        "data_dir": data_dir,
        "rpc_url": None,
        "database_url": f"sqlite:///{data_dir / 'provledger.db'}",
        "keystore_scrypt_n": 2**4,  # cheap for tests; real keystores keep eth-account's default
        "relayer_poll_interval": 0.02,
        "indexer_poll_interval": 0.05,
        "batch_max_age": 0.2,  # flush batches quickly: tests wait for them
        # Tests refuse requests on purpose, many from one token (governance's): throttling is
        # tested on its own (tests/api/test_throttle.py).
        "error_rate": 1e4,
        "error_burst": 1e5,
    }
    return Settings(**{**defaults, **overrides})


@contextmanager
def serve_in_thread(runtime: Runtime, *, start_workers: bool = True) -> Iterator[str]:
    """Serve ``runtime`` on a free loopback port until the block ends; yields the base URL."""
    port = free_port()
    config = server_config(  # served as `provledger serve` serves it, on a free port
        create_app(runtime, start_workers=start_workers),
        runtime.settings,
        open_files=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        host="127.0.0.1",
        port=port,
        log_config=None,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="provledger-test-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    if thread.is_alive():
        raise RuntimeError("the test server did not stop")
