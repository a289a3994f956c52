"""The read side of the trail: SQLAlchemy Core queries behind the query API.

Synchronous on purpose: the engine is the one the rest of Argus uses (PostgreSQL or the embedded
SQLite), and handlers run these methods on the read pool (`query.py`). On PostgreSQL every transaction
is REPEATABLE READ and READ ONLY, so a page and its `total` (or a summary's several counts) come
from one snapshot, and the read path cannot write even when it is pointed at the primary.
Every value reaches the database as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, Engine, Select, Text, cast, event, func, select, tuple_

from argus.audit.record_checks import TrailChecker
from argus.audit.records_file import Scope
from argus.audit.verify_db import database_rows
from argus.audit.verify_report import SIGNATURES_OFF, TRUNCATION_NOTE, sorted_breaks
from argus.db.engine import is_sqlite, make_engine
from argus.db.schema import audit_records as t
from argus.db.schema import record_columns
from argus.trust.key_registry import KeyRegistry
from argus_spec import exactjson
from argus_spec.event import format_utc
from argus_spec.hashchain import CUR, SEQ

#: Output fields in order: the stored record (as hashed) plus where and when it was stored.
OUTPUT_FIELDS: tuple[str, ...] = (
    "id", "timestamp", "traceId", "eventType", "action", "status", "actorType", "actorId", "targetType",
    "targetId", "message", "metadata", "signature", "signatureAlgorithm", "publicKeyId", "signatureFormat",
    "signatureAmbiguous", "source", "receivedAt", "seq", "previousHash", "currentHash", "kafkaPartition",
    "kafkaOffset", "storedAt",
)  # fmt: skip
COLUMN_OF: dict[str, Column[Any]] = dict(zip(OUTPUT_FIELDS, record_columns(OUTPUT_FIELDS), strict=True))
#: Exact-match filters of GET /api/audit-logs: parameter -> column.
FILTERS: dict[str, Column[Any]] = {
    name: COLUMN_OF[name]
    for name in ("traceId", "eventType", "action", "status", "actorId", "actorType", "targetType", "targetId")
}
MAX_BREAKS = 1000  # a verify answer lists at most this many breaks (breakCount has them all)
#: A page stops taking records once their text passes this many bytes (it always holds one), so
#: limit=1000 with 1 MiB messages cannot build a 1 GB answer; nextCursor / nextFromSeq continue.
PAGE_MAX_BYTES = 8 << 20


@dataclass(frozen=True)
class LogQuery:
    """A parsed GET /api/audit-logs request."""

    filters: dict[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100
    offset: int = 0
    after: tuple[datetime, str] | None = None  # keyset: rows strictly after this (event_time, id)
    include_message: bool = False
    include_total: bool = True


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int | None
    last_key: tuple[datetime, str] | None  # (event_time, id) of the last record when more follow


def _metadata(text: str | None) -> Any:
    """The canonical text parsed back to an object; text that is not JSON (only possible if the
    row was tampered with) is returned as the raw string so auditors can still read it."""
    if text is None:
        return None
    try:
        return exactjson.loads(text)
    except exactjson.JSONDecodeError:
        return text


def to_record(row: Any) -> dict[str, Any]:
    """A result row (labelled with output field names) as the API's record object."""
    values = row._mapping
    record = {name: values[name] for name in OUTPUT_FIELDS if name in values}
    record["metadata"] = _metadata(record["metadata"])
    record["storedAt"] = format_utc(record["storedAt"])
    return record


def _utc_session(dbapi_connection: Any, _record: Any) -> None:
    """Sessions in UTC: every stored instant (validation keeps them in years 1-9999 UTC) reads back
    into a Python datetime, whatever the server's TimeZone setting."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'; SET DateStyle TO ISO")  # _keyset_time parses ISO text
    dbapi_connection.commit()


def _keyset_time(text: str) -> datetime:
    """The cursor's event time, read as text so that no row can fail a page: validation keeps new
    events in years 0001-9999 UTC, but a row stored before that rule may lie outside Python's
    datetime range (year 10000, or BC), and is then clamped to the nearest end of it."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return (datetime.min if text.endswith("BC") else datetime.max).replace(tzinfo=UTC)


def _row_bytes(row: Any) -> int:
    return sum(len(value) for value in row if isinstance(value, str))


def _bounded_page(connection: Connection, stmt: Select[Any], limit: int, messages: bool) -> tuple[list[Any], bool]:
    """Up to `limit` rows within PAGE_MAX_BYTES, fetched a few at a time (server-side cursor), and
    whether more rows follow."""
    options = {"stream_results": True, "yield_per": 8 if messages else 500}
    rows: list[Any] = []
    size, more = 0, False
    with connection.execution_options(**options).execute(stmt) as result:
        for row in result:
            if len(rows) == limit or size >= PAGE_MAX_BYTES:
                more = True
                break
            rows.append(row)
            size += _row_bytes(row)
    return rows, more


def _record_select(include_message: bool, *extra: Any) -> Select[Any]:
    fields = [f for f in OUTPUT_FIELDS if include_message or f != "message"]
    return select(*(COLUMN_OF[f].label(f) for f in fields), *extra)


class ReadStore:
    """Queries over audit_records; one instance per gateway, closed by the app's cleanup context."""

    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {}
        if not is_sqlite(url):
            options = {"isolation_level": "REPEATABLE READ", "execution_options": {"postgresql_readonly": True}}
        self.engine: Engine = make_engine(url, **options)
        if not is_sqlite(url):
            event.listen(self.engine, "connect", _utc_session)

    def close(self) -> None:
        self.engine.dispose()

    def list_logs(self, query: LogQuery) -> Page:
        """Newest first (event_time DESC, id DESC); one row more than asked tells whether more follow."""
        conditions: list[Any] = [FILTERS[name] == value for name, value in query.filters.items()]
        if query.start is not None:
            conditions.append(t.c.event_time >= query.start)
        if query.end is not None:
            conditions.append(t.c.event_time < query.end)
        stmt = _record_select(query.include_message, cast(t.c.event_time, Text).label("_eventTime")).where(*conditions)
        if query.after is not None:
            stmt = stmt.where(tuple_(t.c.event_time, t.c.id) < tuple_(*query.after))
        stmt = stmt.order_by(t.c.event_time.desc(), t.c.id.desc()).limit(query.limit + 1).offset(query.offset)
        with self.engine.connect() as connection:
            rows, more = _bounded_page(connection, stmt, query.limit, query.include_message)
            total = None
            if query.include_total:
                count = select(func.count()).select_from(t).where(*conditions)
                total = int(connection.execute(count).scalar_one())
        last_key = (_keyset_time(rows[-1]._mapping["_eventTime"]), rows[-1]._mapping["id"]) if more else None
        return Page([to_record(row) for row in rows], total, last_key)

    def get_log(self, record_id: str, include_message: bool) -> dict[str, Any] | None:
        stmt = _record_select(include_message).where(t.c.id == record_id)
        with self.engine.connect() as connection:
            row = connection.execute(stmt).first()
        return None if row is None else to_record(row)

    def chain(self, actor: str, from_seq: int, limit: int, include_message: bool) -> tuple[list[dict[str, Any]], bool]:
        """Records of one actor from `from_seq` in seq order, and whether more follow; ([], False) and
        no such actor are told apart by `actor_exists`."""
        stmt = (
            _record_select(include_message)
            .where(t.c.actor_id == actor, t.c.seq >= from_seq)
            .order_by(t.c.seq)
            .limit(limit + 1)
        )
        with self.engine.connect() as connection:
            rows, more = _bounded_page(connection, stmt, limit, include_message)
        return [to_record(row) for row in rows], more

    def actor_exists(self, actor: str) -> bool:
        stmt = select(t.c.seq).where(t.c.actor_id == actor).limit(1)
        with self.engine.connect() as connection:
            return connection.execute(stmt).first() is not None

    def summary(self, start: datetime, end: datetime, top: int) -> dict[str, Any]:
        """Counts of one [start, end) event-time window: one GROUP BY over the four low-cardinality
        columns (folded per dimension here), then the busiest actors, all in one snapshot."""
        in_window = (t.c.event_time >= start, t.c.event_time < end)
        dims = (t.c.action, t.c.status, t.c.event_type, t.c.actor_type)
        combos = select(*dims, func.count()).where(*in_window).group_by(*dims)
        per_actor = func.count().label("n")
        actors = (
            select(t.c.actor_id, per_actor).where(*in_window).group_by(t.c.actor_id)
            .order_by(per_actor.desc(), t.c.actor_id).limit(top)
        )  # fmt: skip
        distinct = select(func.count(func.distinct(t.c.actor_id))).where(*in_window)
        with self.engine.connect() as connection:
            combo_rows = connection.execute(combos).all()
            actor_rows = connection.execute(actors).all()
            unique_actors = int(connection.execute(distinct).scalar_one())
        names = ("byAction", "byStatus", "byEventType", "byActorType")
        counts: dict[str, dict[str, int]] = {name: {} for name in names}
        for *values, n in combo_rows:
            for name, value in zip(names, values, strict=True):
                key = value or ""  # events without an eventType are counted under ""
                counts[name][key] = counts[name].get(key, 0) + n
        return {
            "total": sum(row[-1] for row in combo_rows),
            **{name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for name, c in counts.items()},
            "uniqueActors": unique_actors,
            "topActors": [{"actorId": actor, "count": int(n)} for actor, n in actor_rows],
        }

    def verify_actor(self, actor: str, registry: KeyRegistry | None = None) -> dict[str, Any] | None:
        """Stream the actor's whole chain through the checks `argus verify` runs (constant memory on
        an intact chain): hashes, links, derived columns, and with a key registry its signatures
        and mustSign policy. None when the actor has no records."""
        checker = TrailChecker(anchored=False, registry=registry)
        breaks: list[Any] = []
        last: Sequence[Any] | None = None
        for row in database_rows(self.engine, Scope(actor=actor)):
            breaks += checker.feed(row)
            last = row
        if last is None:
            return None
        breaks = sorted_breaks(breaks + checker.finish())
        notes = [TRUNCATION_NOTE]
        if checker.signatures is None:
            notes.append(SIGNATURES_OFF.format(why="the gateway has no key registry (ARGUS_KEYS_CONFIG)"))
        return {
            "actorId": actor,
            "ok": not breaks,
            "records": checker.chain.records,
            "head": {"seq": last[SEQ], "currentHash": last[CUR]},
            "signaturesChecked": checker.signatures is not None,
            "breakCount": len(breaks),
            "breaks": [b.as_dict() for b in breaks[:MAX_BREAKS]],
            "notes": notes,
        }
