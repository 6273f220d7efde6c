"""A real provledger service on a loopback port, for the service's own tests: the same helpers
integrators get from the pytest plugin (:mod:`api.testing`).

Tests that need what TestClient cannot give (many requests at once, real sockets, the server's
own protocol handling) run on an embedded chain (:func:`embedded_settings`), never on the
session's bare eth-tester chain: concurrent request handlers, relayer and indexer touch the
chain from several threads, which the embedded chain serialises and eth-tester does not.
"""

from api.testing import embedded_settings, serve_in_thread

__all__ = ["embedded_settings", "serve_in_thread"]
