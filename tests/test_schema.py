"""Migrations: a school's database is upgraded in place and ends up exactly as the models say."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

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


def test_a_database_from_before_migrations_is_adopted_and_keeps_its_data(session, engine, school):
    """Demo databases made by create_all (before migrations) upgrade without losing a row."""
    assert not inspect(engine).has_table("alembic_version")
    before, after = schema.upgrade(engine)
    assert (before, after) == (None, schema.head_revision())
    assert schema.current_revision(engine) == schema.head_revision()
    session.rollback()
    assert session.get(type(school.alice), school.alice.id).name == "Alice Adams"
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
