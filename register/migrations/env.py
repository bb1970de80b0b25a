"""Alembic environment: run by ``register.schema.upgrade`` (with a connection) or by the
``alembic`` command for developers writing a migration (DATABASE_URL or a scratch SQLite)."""

import os

from alembic import context
from sqlalchemy import create_engine

from register.db import configure_engine, database_url
from register.models import Base


def run(connection) -> None:
    # Batch mode: SQLite can only alter a table by copying it, which Alembic does for us.
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(database_url(os.environ.get("DATABASE_URL", "sqlite:///scratch.db")))
    configure_engine(engine)
    with engine.begin() as fresh:
        run(fresh)
