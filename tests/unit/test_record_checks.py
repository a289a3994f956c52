"""argus.audit.record_checks: the event_time a hashed timestamp implies, fast path and general path alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from argus.audit.record_checks import expected_event_time
from argus_spec.event import event_time_of


def _general(timestamp: str) -> str:
    return event_time_of(timestamp).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


ZONES = ["Z", "z", "+00:00", "+15:59", "-07:30"]


@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9998, 12, 30)),
       st.integers(0, 999_999_999), st.integers(0, 9), st.sampled_from(ZONES))  # fmt: skip
def test_expected_event_time_is_the_timestamp_in_utc(moment: datetime, nanos: int, digits: int, zone: str) -> None:
    fraction = f".{nanos:09d}"[: digits + 1] if digits else ""
    timestamp = moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone
    assert expected_event_time(timestamp) == _general(timestamp.replace("z", "Z"))


def test_expected_event_time_of_what_cannot_be_an_event_time() -> None:
    assert expected_event_time("0001-01-01T00:00:00+01:00") is None  # before year 1 in UTC
    assert expected_event_time("not a time") is None
    assert expected_event_time(None) is None
    shifted = datetime(2026, 3, 4, 2, 35, tzinfo=UTC) - timedelta(hours=2)
    assert expected_event_time("2026-03-04T02:35:00.5+02:00") == f"{shifted:%Y-%m-%d %H:%M:%S}.500000"
