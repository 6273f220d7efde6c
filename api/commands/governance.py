"""Governance at a terminal: ``provledger dept …``, ``auditor token``, ``token revoke``.

Without ``--token`` these use the governance token ``provledger serve`` wrote in its data
directory (``PROVLEDGER_DATA_DIR``, default ``./.provledger``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from api.commands.common import ReasonOption, Terminal, report_write, settle
from api.commands.options import ServiceOptions, WriteOptions, with_options

if TYPE_CHECKING:
    from api.schemas import OperationPublic, TokenIssued


dept_app = typer.Typer(
    name="dept",
    help="Enrol, suspend and reactivate departments; issue their tokens (governance).",
    no_args_is_help=True,
)
auditor_app = typer.Typer(
    name="auditor", help="Auditor tokens: read and verify only (governance).", no_args_is_help=True
)
token_app = typer.Typer(name="token", help="Revoke a token by its id (governance).")

DepartmentArg = Annotated[int, typer.Argument(min=1, help="The department's stable id.")]
LabelOption = Annotated[str, typer.Option(help="A note on who holds the token.")]


def _show_token(terminal: Terminal, issued: TokenIssued) -> None:
    terminal.emit(
        issued.model_dump(mode="json"),
        lambda: terminal.say(
            f"token {issued.token_id} ({issued.kind}"
            + (f", department {issued.department_id}" if issued.department_id else "")
            + f"), shown once, store it:\n{issued.token}"
        ),
    )


@dept_app.command("enrol")
@with_options
def enrol(
    department_id: DepartmentArg,
    name: Annotated[str, typer.Argument(help="The department's name, as recorded on chain.")],
    signer: Annotated[
        str | None,
        typer.Option(
            help="0x-address of a key the department holds itself; omit for a key the "
            "service keeps for it (encrypted)."
        ),
    ] = None,
    *,
    options: WriteOptions,
) -> None:
    """Enrol a department and print its first token (shown once)."""
    with options.connect(governance=True) as (client, terminal):
        enrolled = client.enrol_department(department_id, name, signer_address=signer)

        def human(operation: OperationPublic | None) -> None:
            custody = "a key the service keeps" if enrolled.custodial else "its own key"
            terminal.say(
                f"department {enrolled.department_id} ({escape(enrolled.name)}) signs with "
                f"{enrolled.address} ({custody})"
            )
            report_write(terminal, "enrolment", operation, enrolled.operation_id)
            terminal.say(f"token {enrolled.token_id}, shown once, store it:\n{enrolled.token}")

        settle(client, terminal, enrolled, human, wait=options.wait, timeout=options.timeout)


@dept_app.command("suspend")
@with_options
def suspend(
    department_id: DepartmentArg,
    reason: ReasonOption = "",
    *,
    options: WriteOptions,
) -> None:
    """Suspend a department: its signatures stop being accepted until reactivated."""
    options.send(
        lambda client: client.suspend_department(department_id, reason=reason),
        f"suspension of department {department_id}",
        governance=True,
    )


@dept_app.command("reactivate")
@with_options
def reactivate(
    department_id: DepartmentArg,
    *,
    options: WriteOptions,
) -> None:
    """Reactivate a suspended department."""
    options.send(
        lambda client: client.reactivate_department(department_id),
        f"reactivation of department {department_id}",
        governance=True,
    )


@dept_app.command("token")
@with_options
def department_token(
    department_id: DepartmentArg,
    label: LabelOption = "",
    *,
    options: ServiceOptions,
) -> None:
    """Issue another token for a department (shown once)."""
    with options.connect(governance=True) as (client, terminal):
        _show_token(terminal, client.issue_department_token(department_id, label=label))


@dept_app.command("nonces")
@with_options
def nonces(
    department_id: DepartmentArg,
    *,
    options: ServiceOptions,
) -> None:
    """The nonce each contract expects on the department's next own signature."""
    with options.connect(governance=True) as (client, terminal):
        answer = client.department_nonces(department_id)

        def human() -> None:
            terminal.say(f"department {department_id} on chain {answer['chain_id']}:")
            for name, entry in sorted(answer["nonces"].items()):
                terminal.say(f"  {name} {entry['contract']} next nonce {entry['next_nonce']}")

        terminal.emit(answer, human)


@auditor_app.command("token")
@with_options
def auditor_token(
    label: LabelOption = "",
    *,
    options: ServiceOptions,
) -> None:
    """Issue an auditor token (shown once)."""
    with options.connect(governance=True) as (client, terminal):
        _show_token(terminal, client.issue_auditor_token(label=label))


@token_app.command("revoke")
@with_options
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="The token's public id (tok_…).")],
    *,
    options: ServiceOptions,
) -> None:
    """Revoke a token at once; requests carrying it are refused from now on."""
    with options.connect(governance=True) as (client, terminal):
        answer = client.revoke_token(token_id)
        terminal.emit(
            answer, lambda: terminal.say(f"token {token_id} revoked at {answer['revoked_at']}")
        )
