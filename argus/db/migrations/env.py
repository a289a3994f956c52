"""Alembic environment: runs migrations online against the configured URL."""

from __future__ import annotations

from alembic import context

from argus.db.engine import make_engine
from argus.db.schema import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None
engine = make_engine(url)
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite"))
    context.run_migrations()
engine.dispose()
