"""provledger's ledger core: hashing, Merkle proofs, EIP-712 signing, keys and chain access.

The HTTP service (:mod:`api`) depends on this package, never the reverse.
"""
