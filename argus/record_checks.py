"""Every check `argus verify` and the API's verify endpoint run on stored records, beyond the hash chain:
signatures and the registry's mustSign policy, the unhashed columns derived from hashed fields, and
the edges of a time window (docs/hash-chain.md, "Unhashed columns" and "Time windows").

Why here and not in the chain verifier: these need the database's own columns (event_time,
signature_ambiguous) or the key registry, which an auditor verifying an export has not got.
Rows are a record's values in RECORD_FIELDS order followed by `EXTRA` (None where a source lacks them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Engine, Text, and_, cast, func, not_, select

from argus.db.schema import audit_records
from argus.export import Scope, parse_time
from argus_client import exactjson
from argus_client.canonical import signature_is_ambiguous
from argus_client.event import EVENT_FIELDS, MAX_UTC_OFFSET, EventValidationError, event_time_of
from argus_client.hashchain import ACTOR, BAD_SIGNATURE, MISSING, RECORD_FIELDS, SEQ, ChainBreak, ChainVerifier

if TYPE_CHECKING:
    from argus.keys import KeyRegistry

#: Trailing columns of a verify row: event_time as UTC text, signature_ambiguous, the actor's first
#: seq in the time window (None without one).
EXTRA = ("eventTime", "signatureAmbiguous", "windowLow")
EVENT_TIME, AMBIGUOUS, LOW = (len(RECORD_FIELDS) + i for i in range(len(EXTRA)))
DERIVED, UNSIGNED = "derived_column", "unsigned"
SIGNATURE_BATCH = 1000
_TIMESTAMP, _METADATA, _SIGNATURE, _FORMAT = (
    EVENT_FIELDS.index(f) for f in ("timestamp", "metadata", "signature", "signatureFormat"))  # fmt: skip
_SOURCE, _RECEIVED = RECORD_FIELDS.index("source"), RECORD_FIELDS.index("receivedAt")
#: A valid timestamp in UTC (the event validator's form with Z): its event_time text needs no parsing.
_UTC_STAMP = re.compile(r"(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?[Zz]")


def event_time_text(dialect: str) -> ColumnElement[Any]:
    """event_time as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, read as text (PostgreSQL can hold years
    Python cannot read back; SQLite stores this text already)."""
    column = audit_records.c.event_time
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    return cast(column, Text)


def expected_event_time(timestamp: Any) -> str | None:
    """What event_time must hold for this hashed timestamp, as `event_time_text` reads it. A UTC
    timestamp is rewritten as text (8x faster than parsing); any other goes through `event_time_of`."""
    utc = _UTC_STAMP.fullmatch(timestamp) if isinstance(timestamp, str) else None
    if utc is not None:
        day, clock, fraction = utc.groups()
        return f"{day} {clock}.{(fraction or '')[:6].ljust(6, '0')}"
    try:
        moment = event_time_of(timestamp)
    except (EventValidationError, TypeError):
        return None
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def column_breaks(row: Any) -> list[ChainBreak]:
    """The derived columns of one row against the hashed fields they are derived from."""
    found = []
    stored = row[EVENT_TIME]
    if stored is not None:
        timestamp = row[_TIMESTAMP]
        utc = _UTC_STAMP.fullmatch(timestamp) if type(timestamp) is str else None  # the common case, inlined
        if utc is not None:
            day, clock, fraction = utc.groups()
            expected: str | None = f"{day} {clock}.{(fraction or '')[:6].ljust(6, '0')}"
        else:
            expected = expected_event_time(timestamp)
        if stored != expected:
            detail = (f"event_time {stored} is not the hashed timestamp {timestamp!r} ({expected} UTC): "
                      "time filters, export, search and the summary would place it elsewhere")  # fmt: skip
            found.append(ChainBreak(row[ACTOR], row[SEQ], DERIVED, detail))
    ambiguous = row[AMBIGUOUS]
    # only a v1-signed record can be ambiguous: the others need no look at their fields
    if ambiguous or (ambiguous is not None and row[_SIGNATURE] is not None and row[_FORMAT] in (None, "v1")):
        derived = signature_is_ambiguous(dict(zip(EVENT_FIELDS, row[: len(EVENT_FIELDS)], strict=True)))
        if bool(ambiguous) != derived:
            detail = f"signature_ambiguous is {bool(ambiguous)} but the signed fields say {derived}"
            found.append(ChainBreak(row[ACTOR], row[SEQ], DERIVED, detail))
    return found


class SignatureChecker:
    """Checks signed records in batches against the key registry (`argus.signatures.verify_batch`),
    and unsigned ones against its mustSign policy: a stripped signature is caught even after the
    chain was re-hashed, because the policy lives outside the database."""

    def __init__(self, registry: KeyRegistry) -> None:
        from argus.signatures import verify_batch  # the key stack is needed only when signatures are checked

        self.registry = registry
        self.verify_batch = verify_batch
        self.batch: list[tuple[str, int, dict[str, Any]]] = []
        self.unsigned = 0

    def add(self, row: Any) -> list[ChainBreak]:
        if row[_SIGNATURE] is None:
            self.unsigned += 1
            rule = self.registry.must_sign(row[_SOURCE], row[ACTOR], _moment(row[_RECEIVED]))
            if rule is None:
                return []
            return [ChainBreak(row[ACTOR], row[SEQ], UNSIGNED,
                               f"no signature, but the key registry's policy says {rule} must sign "
                               "(a stripped signature?)")]  # fmt: skip
        event = dict(zip(EVENT_FIELDS, row[: len(EVENT_FIELDS)], strict=True))
        try:  # verify_batch takes normalized events: metadata as the object it canonicalizes again
            event["metadata"] = None if row[_METADATA] is None else exactjson.loads(row[_METADATA])
        except exactjson.JSONDecodeError:
            return [ChainBreak(row[ACTOR], row[SEQ], BAD_SIGNATURE, "metadata is not JSON")]
        self.batch.append((row[ACTOR], row[SEQ], event))
        return self.flush() if len(self.batch) >= SIGNATURE_BATCH else []

    def flush(self) -> list[ChainBreak]:
        batch, self.batch = self.batch, []
        if not batch:
            return []
        results = self.verify_batch([event for _, _, event in batch], self.registry)
        return [
            ChainBreak(actor, seq, BAD_SIGNATURE, result)
            for (actor, seq, _), result in zip(batch, results, strict=True)
            if result is not None
        ]


def _moment(text: Any) -> datetime | None:
    try:
        return parse_time(text)
    except (TypeError, ValueError, AttributeError):
        return None  # an unreadable receivedAt: every policy rule applies


class TrailChecker:
    """One record stream through every check: the chain (argus_client.hashchain), the derived
    columns, signatures and policy (with a registry), and each actor's anchor of a time window."""

    def __init__(self, *, anchored: bool, registry: KeyRegistry | None = None) -> None:
        self.chain = ChainVerifier(anchored=anchored)
        self.signatures = SignatureChecker(registry) if registry is not None else None
        self._actor: Any = None

    def feed(self, row: Any) -> list[ChainBreak]:
        found = self.chain.feed_row(row)
        if row[ACTOR] != self._actor:
            self._actor = row[ACTOR]
            low = row[LOW]
            if low is not None and low > 1 and row[SEQ] > low - 1:
                found = [*found, ChainBreak(row[ACTOR], low - 1, MISSING,
                                            f"seq {low - 1}, the record before the time window's first record "
                                            f"(seq {low}), is absent: it would anchor the window's start")]  # fmt: skip
        found += column_breaks(row)
        if self.signatures is not None:
            found += self.signatures.add(row)
        return found

    def finish(self) -> list[ChainBreak]:
        found = self.chain.finish()
        return found + self.signatures.flush() if self.signatures is not None else found


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
            moment = _moment(timestamp)
            if moment is None or (scope.start is not None and moment < scope.start):
                continue
            if scope.end is not None and moment >= scope.end:
                continue
            detail = (f"hashed timestamp {timestamp!r} lies in the time window but event_time {stored} does not: "
                      "hidden from time-scoped queries")  # fmt: skip
            yield ChainBreak(actor, seq, DERIVED, detail)


def _local_text(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
