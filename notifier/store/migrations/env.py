"""Alembic environment: runs on the connection notifier hands over (see notifier.store.migrate)."""

from alembic import context

from notifier.store.models import Base, dialect_only

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `notifier db upgrade`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table.
    compare_type=True,
    include_object=dialect_only(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
