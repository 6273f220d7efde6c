"""The service's own commands: ``provledger serve`` and ``provledger deploy``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.cli import _fail, console
from ledger.errors import LedgerError

commands = typer.Typer()


@commands.command("serve")
def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (default ./.provledger).")
    ] = None,
) -> None:
    """Run the HTTP service. With no configuration: the embedded chain and SQLite in the data
    directory, contracts deployed on first start, a governance token written to a file."""
    from api.app import GOVERNANCE_TOKEN_FILE, create_app
    from api.server import run
    from ledger.config import Settings
    from ledger.runtime import Runtime

    given: dict[str, Any] = {"host": host, "port": port, "data_dir": data_dir}
    settings = Settings(**{name: value for name, value in given.items() if value is not None})
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        runtime = Runtime.open(settings)
    except LedgerError as exc:
        raise _fail(exc) from exc
    chain = "embedded chain" if settings.uses_embedded_chain else settings.rpc_url
    console.print(f"chain: {chain} (chain id {runtime.chain.chain_id})")
    console.print(f"contracts: {runtime.ledger.deployment.to_json()}")
    console.print(f"database: {settings.resolved_database_url}")
    console.print(f"governance token: {settings.data_dir / GOVERNANCE_TOKEN_FILE} (owner-only)")
    console.print(f"API docs: http://{settings.host}:{settings.port}/docs")
    try:
        run(create_app(runtime), settings)
    finally:
        runtime.close()


@commands.command("deploy")
def deploy_command(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain to deploy on.")],
    data_dir: Annotated[Path, typer.Option(help="Where the service key and record live.")] = Path(
        ".provledger"
    ),
    admin: Annotated[
        str | None, typer.Option(help="Default admin (default: the service key).")
    ] = None,
) -> None:
    """Deploy the contracts on an external chain with the service key (which must hold gas) and
    write the deployment record the service reads."""
    from ledger.chain.backend import Chain
    from ledger.chain.deploy import Ledger
    from ledger.config import Settings
    from ledger.runtime import service_account

    settings = Settings(data_dir=data_dir, rpc_url=rpc)
    record = settings.resolved_deployment_file
    if record.exists():
        raise typer.BadParameter(f"{record} exists: this data directory already has a deployment")
    try:
        account = service_account(settings)
        chain = Chain.rpc(rpc, expected_chain_id=settings.chain_id)
        ledger = Ledger.deploy(chain, account, admin=admin)
    except LedgerError as exc:
        raise _fail(exc) from exc
    record.write_text(ledger.deployment.to_json() + "\n")
    console.print(f"deployed on chain {chain.chain_id} from {account.address}; record in {record}")
