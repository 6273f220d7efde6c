"""How the HTTP service is served: one place for the uvicorn settings.

``provledger serve`` uses it, and so does the benchmarks' baseline app, so a baseline measured
in the same run is served exactly like the service.
"""

from __future__ import annotations

from fastapi import FastAPI


def run(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info")
