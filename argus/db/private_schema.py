"""A PostgreSQL schema of one's own: how tests and benchmarks share one server without sharing state.

Every connection of the URL it yields has its search_path set to the schema, so the unqualified
table names Argus uses land there; the schema is dropped (with everything in it) afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from sqlalchemy import text

from argus.db.engine import make_engine


class PrivateSchema(NamedTuple):
    name: str
    url: str  # the database URL with search_path set to `name`


def with_search_path(url: str, schema: str) -> str:
    """`url` with every connection's search_path set to `schema`."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _migrate(url: str) -> None:
    from argus.db import migrate

    migrate.upgrade(url)


@contextmanager
def private_schema(database_url: str, prefix: str, setup: Callable[[str], None] = _migrate) -> Iterator[PrivateSchema]:
    """A fresh schema `<prefix>_<random>`, set up by `setup(url)` (default: the real migrations);
    dropped when the block ends, however it ends."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(database_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        url = with_search_path(database_url, name)
        setup(url)
        yield PrivateSchema(name, url)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()
