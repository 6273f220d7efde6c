"""The options every client command takes, declared once and handed to a command as one value.

Typer reads a command's options from its signature. A command with a parameter annotated
:class:`ServiceOptions` (``--url --token --json``) or :class:`WriteOptions` (those and
``--wait --timeout``), decorated with :func:`with_options`, shows Typer those options in that
parameter's place, and receives their values gathered back into the one parameter.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, get_type_hints

from api.commands.common import (
    DEFAULT_URL,
    JsonOption,
    Terminal,
    TimeoutOption,
    TokenOption,
    UrlOption,
    WaitOption,
    connect,
    finish,
)

if TYPE_CHECKING:
    from api.client import ProvledgerClient
    from api.schemas import Accepted


@dataclass(frozen=True)
class ServiceOptions:
    """Which service to ask, as whom, and how to answer: ``--url --token --json``."""

    url: UrlOption = DEFAULT_URL
    token: TokenOption = None
    as_json: JsonOption = False

    def connect(
        self, *, governance: bool = False
    ) -> AbstractContextManager[tuple[ProvledgerClient, Terminal]]:
        """:func:`~api.commands.common.connect` with these options."""
        return connect(self.url, self.token, as_json=self.as_json, governance=governance)


@dataclass(frozen=True)
class WriteOptions(ServiceOptions):
    """:class:`ServiceOptions` and whether to wait for the chain: ``--wait --timeout``."""

    wait: WaitOption = True
    timeout: TimeoutOption = 120.0

    def send(
        self,
        write: Callable[[ProvledgerClient], Accepted],
        what: str,
        *,
        governance: bool = False,
    ) -> None:
        """Send ``write``, then report the operation the service accepted it as, in one line
        naming ``what`` was done, after waiting for the chain unless ``--no-wait``."""
        with self.connect(governance=governance) as (client, terminal):
            finish(client, terminal, write(client), what, wait=self.wait, timeout=self.timeout)


def with_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` as Typer should see it: its :class:`ServiceOptions` parameter spelled out
    as the options it holds (same names, types, defaults and help, in the same place)."""
    signature = inspect.signature(command, eval_str=True)
    [grouped] = [
        parameter
        for parameter in signature.parameters.values()
        if isinstance(parameter.annotation, type)
        and issubclass(parameter.annotation, ServiceOptions)
    ]
    options_type = grouped.annotation
    hints = get_type_hints(options_type, include_extras=True)
    names = [option.name for option in fields(options_type)]
    spelled = [
        inspect.Parameter(
            option.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=option.default,
            annotation=hints[option.name],
        )
        for option in fields(options_type)
    ]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        values = {name: kwargs.pop(name) for name in names if name in kwargs}
        command(*args, **kwargs, **{grouped.name: options_type(**values)})

    parameters = [
        spelled_parameter
        for parameter in signature.parameters.values()
        for spelled_parameter in (spelled if parameter is grouped else [parameter])
    ]
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    # Typer also reads the annotations (typing.get_type_hints): the resolved ones, not strings.
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    run.__annotations__["return"] = signature.return_annotation
    return run
