"""``eth_call`` in worker processes: the job format, the wire, the worker, the pool."""
