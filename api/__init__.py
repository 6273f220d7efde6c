"""provledger's HTTP service (FastAPI). Built on :mod:`ledger`."""
