"""Every top-level ``provledger`` command: its name, where it is defined, its one-line help.

``provledger --help`` is printed from this list alone, and a command's module is imported, and
the command built by typer, only when that command runs: importing every module and building
every command took most of the command line's start-up time (bench/RESULTS.md, issue 12).
``tests/api/cli/test_command_index.py`` holds the list equal to the commands the modules
define, so a command added without an entry here fails the tests rather than going missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The help of ``provledger`` itself (a test holds it equal to ``ledger.cli.app``'s).
HELP = "Provenance ledger for datasets shared between government departments."


@dataclass(frozen=True)
class Entry:
    """One top-level command, as ``provledger --help`` lists it."""

    name: str
    #: ``module:attribute`` of the ``typer.Typer`` defining it: the command of that name among
    #: its commands, or (a group) that app itself.
    source: str
    #: The first paragraph of its help, on one line.
    summary: str
    kind: Literal["command", "group"] = "command"


#: In the order ``provledger --help`` lists them.
COMMANDS: tuple[Entry, ...] = (
    Entry(
        "compile",
        "api.commands.ledger_commands:commands",
        "Compile contracts/ with the pinned npm solc (wasm) into ledger/_artifacts.",
    ),
    Entry(
        "hash",
        "api.commands.ledger_commands:commands",
        "Print the SHA-256 content hash of a file (streamed, constant memory).",
    ),
    Entry(
        "demo",
        "api.commands.ledger_commands:commands",
        "Deploy the contracts on a local chain, register a file, and verify it from the chain.",
    ),
    Entry(
        "verify",
        "api.commands.ledger_commands:commands",
        "Verify a file against the chain itself: no provledger API or index involved; or audit "
        "a folder or a manifest in bulk, against the chain (--rpc --contract) or a service "
        "(--url).",
    ),
    Entry(
        "reindex",
        "api.commands.ledger_commands:commands",
        "Drop the SQL index and rebuild it from the chain's events (the result is identical).",
    ),
    Entry(
        "serve",
        "api.commands.service:commands",
        "Run the HTTP service. With no configuration: the embedded chain and SQLite in the data "
        "directory, contracts deployed on first start, a governance token written to a file.",
    ),
    Entry(
        "deploy",
        "api.commands.service:commands",
        "Deploy the contracts on an external chain with the service key (which must hold gas) "
        "and write the deployment record the service reads.",
    ),
    Entry(
        "register",
        "api.commands.datasets:commands",
        "Register a file's content hash as a new dataset, or as a new version of one (--dataset).",
    ),
    Entry(
        "fetch",
        "api.commands.fetch:commands",
        "Fetch a sealed dataset version shared with this department: download, check and open "
        "it (only while the chain grants access).",
    ),
    Entry(
        "audit",
        "api.commands.operations:commands",
        "The ledger's event history, oldest first (a department sees its own trail).",
    ),
    Entry(
        "lineage",
        "api.commands.lineage:commands",
        "What a dataset's versions were derived from and what was derived from them, across "
        "departments, up to --depth steps each way (as the index shows it; `verify` checks each "
        "version against the chain).",
    ),
    Entry(
        "receipts",
        "api.commands.receipts:receipts_app",
        "Delivery receipts of sealed versions: list, prove (a bundle) and check on chain.",
        kind="group",
    ),
    Entry(
        "dept",
        "api.commands.governance:dept_app",
        "Enrol, suspend and reactivate departments; issue their tokens (governance).",
        kind="group",
    ),
    Entry(
        "auditor",
        "api.commands.governance:auditor_app",
        "Auditor tokens: read and verify only (governance).",
        kind="group",
    ),
    Entry(
        "token",
        "api.commands.governance:token_app",
        "Revoke a token by its id (governance).",
        kind="group",
    ),
    Entry(
        "datasets",
        "api.commands.datasets:datasets_app",
        "List, show and withdraw datasets.",
        kind="group",
    ),
    Entry(
        "access",
        "api.commands.access:access_app",
        "Request, approve, deny, cancel, revoke, check and prove access to datasets.",
        kind="group",
    ),
    Entry(
        "keys",
        "api.commands.keys:keys_app",
        "Publish and show departments' encryption keys (HPKE public keys on chain).",
        kind="group",
    ),
    Entry(
        "ops",
        "api.commands.operations:ops_app",
        "Where a write stands: pending → submitted → confirmed.",
        kind="group",
    ),
)
