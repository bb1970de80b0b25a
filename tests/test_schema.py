"""Migrations: a school's database is upgraded in place and ends up exactly as the models say."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from register import schema
from register.db import configure_engine
from register.models import Base


def _fresh_engine(database_url_for_test: str):
    engine = create_engine(database_url_for_test)
    configure_engine(engine)
    Base.metadata.drop_all(engine)  # the PostgreSQL run shares one database: start empty
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return engine


def _differences(engine) -> list[object]:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_migrations_build_the_schema_the_models_describe(database_url_for_test):
    engine = _fresh_engine(database_url_for_test)
    try:
        assert schema.upgrade(engine) == (None, schema.head_revision())
        assert _differences(engine) == []
        assert schema.upgrade(engine)[0] == schema.head_revision()  # twice: nothing to do
    finally:
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        Base.metadata.create_all(engine)  # as the other tests expect it
        engine.dispose()


def test_a_database_from_before_migrations_is_adopted_and_keeps_its_data(
        database_url_for_test):
    """Demo databases made by create_all (before migrations) upgrade without losing a row."""
    engine = _fresh_engine(database_url_for_test)
    try:
        with engine.begin() as connection:  # the schema as create_all made it back then
            command.upgrade(schema._config(connection), schema.BASELINE)
            connection.execute(text("DROP TABLE alembic_version"))
            connection.execute(text(
                "INSERT INTO people (name, category, email, active, created_at) "
                "VALUES ('Alice Adams', 'staff', '', true, '2026-09-01 08:00:00')"))
            connection.execute(text(
                "INSERT INTO users (username, password_hash, role, active, created_at) "
                "VALUES ('office', 'x', 'office', true, '2026-09-01 08:00:00')"))
        assert schema.upgrade(engine) == (None, schema.head_revision())
        assert _differences(engine) == []
        with engine.connect() as connection:
            assert connection.execute(text("SELECT name FROM people")).scalar() == "Alice Adams"
            assert connection.execute(text("SELECT email FROM users")).scalar() == ""
    finally:
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        Base.metadata.create_all(engine)
        engine.dispose()
