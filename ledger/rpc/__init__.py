"""A standard, read-only Ethereum JSON-RPC endpoint onto the ledger's chain.

The JSON-RPC 2.0 envelope and every method's parameters are parsed strictly
(:mod:`~ledger.rpc.envelope`, :mod:`~ledger.rpc.methods`, :mod:`~ledger.rpc.params`): pure code,
no web3.
"""

from ledger.rpc.json_bounds import check_json_bounds

__all__ = ["check_json_bounds"]
