"""The database schema, kept up to date by Alembic migrations in ``register/migrations``.

A school's Pi upgrades in place: ``flask --app kiosk init-db`` creates a new database or brings
an existing one up to this version of the code, keeping its data.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from register.models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Databases made by create_all before migrations existed hold exactly this revision's tables.
BASELINE = "815ab638bf85"


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config(None)).get_current_head()
    assert head is not None
    return head


def _matches_models(connection: Connection) -> bool:
    return not compare_metadata(MigrationContext.configure(connection), Base.metadata)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest schema; returns (revision before, revision after)."""
    before = current_revision(engine)
    with engine.begin() as connection:
        config = _config(connection)
        if before is None and inspect(connection).has_table("people"):
            # Made by create_all, without migrations: as up to date as the models, or from
            # before migrations existed (the baseline).
            command.stamp(config, "head" if _matches_models(connection) else BASELINE)
        command.upgrade(config, "head")
    return before, head_revision()
