"""alembic environment: runs on the connection :func:`ledger.migrations.upgrade` hands it."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
# SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
context.configure(
    connection=connection,
    # Only set when a developer autogenerates a revision (see versions/README): runs never
    # compare, they apply the revisions as written.
    target_metadata=context.config.attributes.get("target_metadata"),
    include_object=context.config.attributes.get("include_object"),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
