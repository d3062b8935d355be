"""Alembic environment: always driven programmatically with a live connection (see core/migrate.py)."""

from alembic import context

from jupyter_mltrack.core.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run() -> None:
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
