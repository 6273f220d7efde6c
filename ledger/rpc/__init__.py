"""A standard, read-only Ethereum JSON-RPC endpoint onto the ledger's chain.

The package is the whole server: the JSON-RPC 2.0 envelope and every method's parameters parsed
strictly (:mod:`~ledger.rpc.envelope`, :mod:`~ledger.rpc.methods`, :mod:`~ledger.rpc.params`:
pure, no web3), answers in the JSON of ethereum/execution-apis read straight from py-evm for an
in-process chain (:mod:`ledger.rpc.local`) or forwarded to a node (:mod:`~ledger.rpc.remote`), and
``eth_call`` run in worker processes with a gas cap and a time limit (:mod:`ledger.rpc.evm`).
It knows nothing of HTTP: the service hands it a body and returns its answer.
"""

from ledger.rpc.server import RpcLimits, RpcServer, client_version

__all__ = ["RpcLimits", "RpcServer", "client_version"]
