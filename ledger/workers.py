"""The loop of a background worker (relayer, batcher): tick, and rest while there is nothing
to do or the chain is away. One bad tick is logged, never the end of the service's thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ledger.errors import ChainUnavailableError

log = logging.getLogger(__name__)


def run_until_stopped(
    name: str, tick: Callable[[], bool], stop: threading.Event, poll_interval: float
) -> None:
    """Call ``tick`` (True when it did something) until ``stop`` is set; wait ``poll_interval``
    after an idle tick, a chain outage or an unexpected error."""
    while not stop.is_set():
        try:
            busy = tick()
        except ChainUnavailableError as exc:
            log.warning("%s: chain unavailable, retrying: %s", name, exc)
            busy = False
        except Exception:  # never let one bad row or batch kill the loop
            log.exception("%s: unexpected error", name)
            busy = False
        if not busy:
            stop.wait(poll_interval)
