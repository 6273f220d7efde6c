"""How the HTTP service is served: one place for the uvicorn settings.

``provledger serve`` uses it, and so does the benchmarks' baseline app, so a baseline measured
in the same run is served exactly like the service. The server holds against slow and numerous
clients (:mod:`api.connections`), bounds a request's headers (``max_header_bytes``), serves no
WebSockets, and raises its own limit of open files as far as it may, since every connection
takes one.
"""

from __future__ import annotations

import logging
import resource

import uvicorn
from starlette.types import ASGIApp

from api.connections import ConnectionLimits, guarded
from ledger.config import Settings

log = logging.getLogger(__name__)

#: File descriptors kept for everything but client connections: database, keystores, logs,
#: the chain node's sockets.
FD_RESERVE = 256


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # e.g. above the kernel's nr_open
            log.warning("could not raise the open files limit to %d: %s", target, exc)
    return soft


def connection_limits(settings: Settings, open_files: int) -> ConnectionLimits:
    """The configured limits, with the connection cap lowered to fit ``open_files``."""
    limits = settings.group(ConnectionLimits)
    if open_files == resource.RLIM_INFINITY:
        return limits
    fits = max(1, open_files - FD_RESERVE)
    if limits.max_connections > fits:
        log.warning(
            "max_connections %d lowered to %d to fit the open files limit (%d)",
            limits.max_connections,
            fits,
            open_files,
        )
        limits = ConnectionLimits(limits.header_timeout, limits.body_idle_timeout, fits)
    return limits


def config(
    app: ASGIApp, settings: Settings, *, open_files: int, **overrides: object
) -> uvicorn.Config:
    """The uvicorn configuration for ``app`` under ``settings`` (``overrides``: e.g. logging)."""
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "http": guarded(connection_limits(settings, open_files)),
        "ws": "none",
        # libuv's loop (C) instead of asyncio's: accepting, reading and closing connections
        # costs a fraction as much, which is what a flood of connections makes the service do
        # (bench/abuse.py, slowloris: /healthz p99 178 -> 130 ms on one core).
        "loop": "uvloop",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        **overrides,
    }
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]


def run(app: ASGIApp, settings: Settings) -> None:
    """Serve ``app`` on ``settings.host:settings.port`` until interrupted."""
    open_files = raise_open_files_limit()
    uvicorn.Server(config(app, settings, open_files=open_files)).run()
