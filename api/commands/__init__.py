"""``provledger`` commands: the service's own, and clients of a running service (over its HTTP
API). ``api.command_index`` lists the top-level ones; each is imported only when it runs."""
