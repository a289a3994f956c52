"""The database side of `argus verify`: the rows it checks, and the one check only a query can make.

The checks themselves are storage-free (argus/audit/record_checks.py); this module reads what they need
from audit_records, and looks for records a time window's own selection cannot see.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Text, and_, cast, func, not_, select

from argus.audit.export import db_rows, select_records
from argus.audit.record_checks import DERIVED, parse_moment
from argus.audit.records_file import Scope
from argus.db.schema import audit_records
from argus_spec.event import MAX_UTC_OFFSET
from argus_spec.hashchain import ChainBreak


def event_time_text(dialect: str) -> ColumnElement[Any]:
    """event_time as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, read as text (PostgreSQL can hold years
    Python cannot read back; SQLite stores this text already)."""
    column = audit_records.c.event_time
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    return cast(column, Text)


def database_rows(engine: Engine, scope: Scope) -> Iterator[Any]:
    """The scope's verify rows from the database: record, event_time text, signature_ambiguous, window low."""
    extra = (event_time_text(engine.dialect.name), audit_records.c.signature_ambiguous)
    return db_rows(engine, scope, select_records(scope, extra, with_low=True))


def hidden_from_window(engine: Engine, scope: Scope) -> Iterator[ChainBreak]:
    """Records whose hashed timestamp lies in the time window although their event_time does not:
    moved out of every time-scoped query. The window's own selection runs on event_time, so this
    second look selects on the hashed timestamp's text (its local date-time, at most 15:59 from
    UTC, upper-cased, compared byte-wise), then keeps the exact instants in range."""
    if scope.start is None and scope.end is None:
        return
    t, margin = audit_records, MAX_UTC_OFFSET + timedelta(minutes=1)
    dialect = engine.dialect.name
    stamp: ColumnElement[Any] = func.upper(t.c.timestamp)
    if dialect == "postgresql":
        stamp = stamp.collate("C")
    near, inside = [], []
    if scope.start is not None:
        near.append(stamp >= _local_text(scope.start - margin))
        inside.append(t.c.event_time >= scope.start)
    if scope.end is not None:
        near.append(stamp < _local_text(scope.end + margin))
        inside.append(t.c.event_time < scope.end)
    stmt = select(t.c.actor_id, t.c.seq, t.c.timestamp, event_time_text(dialect)).where(*near, not_(and_(*inside)))
    if scope.actor is not None:
        stmt = stmt.where(t.c.actor_id == scope.actor)
    with engine.connect() as connection:
        for actor, seq, timestamp, stored in connection.execute(stmt.order_by(t.c.actor_id, t.c.seq)):
            moment = parse_moment(timestamp)
            if moment is None or (scope.start is not None and moment < scope.start):
                continue
            if scope.end is not None and moment >= scope.end:
                continue
            detail = (f"hashed timestamp {timestamp!r} lies in the time window but event_time {stored} does not: "
                      "hidden from time-scoped queries")  # fmt: skip
            yield ChainBreak(actor, seq, DERIVED, detail)


def _local_text(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
