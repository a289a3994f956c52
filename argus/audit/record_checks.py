"""Every check `argus verify` and the API's verify endpoint run on stored records, beyond the hash chain:
signatures and the registry's mustSign policy, the unhashed columns derived from hashed fields, and
the edges of a time window (docs/hash-chain.md, "Unhashed columns" and "Time windows").

Why here and not in the chain verifier: these need the database's own columns (event_time,
signature_ambiguous) or the key registry, which an auditor verifying an export has not got. Free of
storage all the same (the rows come from any source): the one check that must query the database,
`hidden_from_window`, is in argus/audit/verify_db.py.
Rows are a record's values in RECORD_FIELDS order followed by `EXTRA` (None where a source lacks them).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from argus.audit.records_file import parse_time
from argus_spec import exactjson
from argus_spec.canonical import signature_is_ambiguous
from argus_spec.event import EVENT_FIELDS, EventValidationError, event_time_of
from argus_spec.hashchain import ACTOR, BAD_SIGNATURE, MISSING, RECORD_FIELDS, SEQ, ChainBreak, ChainVerifier

if TYPE_CHECKING:
    from argus.trust.key_registry import KeyRegistry

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


def expected_event_time(timestamp: Any) -> str | None:
    """What event_time must hold for this hashed timestamp, as `verify_db.event_time_text` reads it. A UTC
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
    """Checks signed records in batches against the key registry (`argus.trust.signatures.verify_batch`),
    and unsigned ones against its mustSign policy: a stripped signature is caught even after the
    chain was re-hashed, because the policy lives outside the database."""

    def __init__(self, registry: KeyRegistry) -> None:
        from argus.trust.signatures import verify_batch  # the key stack is needed only when signatures are checked

        self.registry = registry
        self.verify_batch = verify_batch
        self.batch: list[tuple[str, int, dict[str, Any]]] = []
        self.unsigned = 0

    def add(self, row: Any) -> list[ChainBreak]:
        if row[_SIGNATURE] is None:
            self.unsigned += 1
            rule = self.registry.must_sign(row[_SOURCE], row[ACTOR], parse_moment(row[_RECEIVED]))
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


def parse_moment(text: Any) -> datetime | None:
    """A stored timestamp as UTC, or None if it cannot be read."""
    try:
        return parse_time(text)
    except (TypeError, ValueError, AttributeError):
        return None  # an unreadable receivedAt: every policy rule applies


class TrailChecker:
    """One record stream through every check: the chain (argus_spec.hashchain), the derived
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
