"""Which records (`Scope`, with the options that choose it), and records read from an NDJSON export.

The storage-free record source: `argus verify --from-file` reads an export with this module, the
checks (argus/audit/record_checks.py, argus/audit/verify_report.py) and the spec package alone, no SQLAlchemy
and no server package (tests/unit/test_standalone_verifier.py), so an auditor verifies an export
away from the service. The database source is argus/audit/export.py and argus/audit/verify_db.py.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from argus_spec.event import EventValidationError, event_time_of
from argus_spec.hashchain import ACTOR, SEQ, record_row

_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_ZONE = re.compile(r"([Zz]|[+-]\d\d:\d\d)$")


@dataclass(frozen=True)
class Scope:
    """Which records: all, one actor, and/or an event-time range [start, end)."""

    actor: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    @property
    def anchored(self) -> bool:
        """With a start time each actor's chain begins mid-way: its first record is the anchor."""
        return self.start is not None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Scope:
        return cls(args.actor, args.start, args.end)


def parse_time(text: str) -> datetime:
    """A date-time typed on the command line, as UTC: RFC 3339 by the events' own rule
    (`event_time_of`), also with a space for the T, without a zone (UTC), or a bare date."""
    value = text.strip().replace(" ", "T")
    if _DATE.fullmatch(value):
        value += "T00:00:00"
    if not _ZONE.search(value):
        value += "Z"
    try:
        return event_time_of(value)
    except EventValidationError as exc:
        raise ValueError(f"{text!r}: {exc.message}") from None


def _time_arg(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `export` and `verify` share: where the records live and which of them."""
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"),
                        help="SQLAlchemy URL (default: $ARGUS_DATABASE_URL)")  # fmt: skip
    parser.add_argument("--actor", help="only this actorId")
    parser.add_argument("--from", dest="start", type=_time_arg, metavar="TIME",
                        help="event time >= TIME (RFC 3339); each actor's records in range come with the record "
                             "before them (the anchor) and the one after (docs/hash-chain.md 4.2)")  # fmt: skip
    parser.add_argument("--to", dest="end", type=_time_arg, metavar="TIME", help="event time < TIME (RFC 3339)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar (it is drawn on stderr only when stderr is a terminal)")  # fmt: skip


def file_rows(path: str, scope: Scope, *, with_low: bool = False) -> Iterator[tuple[Any, ...]]:
    """Record rows from an NDJSON export, filtered like the database query, neighbours included (a
    time range takes a first pass to find each actor's seq span); `with_low` as in `select_records`."""
    spans: dict[Any, tuple[Any, Any]] | None = None
    if scope.start is not None or scope.end is not None:
        spans = {}
        for record in file_records(path):
            actor, seq = record.get("actorId"), record.get("seq")
            if (scope.actor is None or actor == scope.actor) and _in_range(record.get("timestamp"), scope):
                lo, hi = spans.get(actor, (seq, seq))
                spans[actor] = (min(lo, seq), max(hi, seq))
    for record in file_records(path):
        row = record_row(record)
        if scope.actor is not None and row[ACTOR] != scope.actor:
            continue
        low = None
        if spans is not None:
            span = spans.get(row[ACTOR])
            if span is None or not (span[0] - 1 if scope.start else 1) <= row[SEQ] <= span[1] + 1:
                continue
            low = span[0] if scope.start else None
        yield (*row, low) if with_low else row


def _in_range(timestamp: Any, scope: Scope) -> bool:
    try:
        moment = parse_time(timestamp)
    except (TypeError, ValueError, AttributeError):
        return False
    return (scope.start is None or moment >= scope.start) and (scope.end is None or moment < scope.end)


def file_records(path: str) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path}:{number}: not a record object")
                yield record
