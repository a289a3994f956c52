"""`argus db upgrade|downgrade|current`: schema migrations for PostgreSQL and SQLite."""

from __future__ import annotations

import argparse
from typing import Any

from argus.db import migrate
from argus.runtime.settings import load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="manage the database schema (Alembic migrations)")
    parser.add_argument("--database-url", help="defaults to ARGUS_DATABASE_URL")
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = actions.add_parser("upgrade", help="apply migrations up to REVISION (default head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=run)
    down = actions.add_parser("downgrade", help="revert migrations down to REVISION (e.g. base)")
    down.add_argument("revision")
    down.set_defaults(func=run)
    cur = actions.add_parser("current", help="print the applied revision")
    cur.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = args.database_url or load_settings().database_url
    if args.db_command == "upgrade":
        migrate.upgrade(url, args.revision)
    elif args.db_command == "downgrade":
        migrate.downgrade(url, args.revision)
    else:
        print(migrate.current(url) or "base")
    return 0
