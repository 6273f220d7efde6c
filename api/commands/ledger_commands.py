"""The ledger's own commands (``ledger.cli``), able to audit through a service.

``provledger verify --url`` audits through a provledger service with the HTTP client, which
only ``api`` has: installed here, for whichever of these commands runs.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from ledger.cli import app as commands
from ledger.cli import use_service_checker

if TYPE_CHECKING:
    from ledger.audit_report import Checker


def _service_checker(url: str, token: str | None) -> AbstractContextManager[Checker]:
    # Imported only when an audit goes through a service: hashing a file, or verifying it
    # against the chain, needs none of the client commands' code.
    from api.commands.bulk import service_checker

    return service_checker(url, token)


use_service_checker(_service_checker)

__all__ = ["commands"]
