"""The ledger's use cases: one plain, synchronous, typed function per action of a department,
of governance or of an auditor, and per read. Each takes a principal and a command and returns a
result or raises a :class:`~ledger.errors.LedgerError`; the HTTP service and the CLI only
translate to and from them (docs/architecture.md)."""
