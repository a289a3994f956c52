"""Alembic driven from code, so `argus db upgrade` needs no alembic.ini on the target machine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str, *, topic: str | None = None) -> Config:
    """`topic` is the events topic a migration may need (0004 backfills records with it);
    default: the configured ARGUS_TOPIC."""
    config = Config(attributes={"argus_topic": topic} if topic else {})
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head", *, topic: str | None = None) -> None:
    command.upgrade(alembic_config(database_url, topic=topic), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    from alembic.migration import MigrationContext

    from argus.db.engine import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this build ships."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert revision is not None
    return revision
