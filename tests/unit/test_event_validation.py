"""The shared validation rules (client, gateway and processor): what PostgreSQL and the read path
can hold is decided here, once, so an acknowledged event can always be stored and read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from argus.db.admission import validate_storable_event
from argus_spec.enums import EnumConfig
from argus_spec.envelope import ENVELOPE_VERSION
from argus_spec.event import MAX_METADATA_DEPTH, EventValidationError, format_utc, parse_timestamp, validate_event
from processor.decode import RawMessage, decode_message
from tests.event_samples import EVENT_ID, MINIMAL_EVENT

ENUMS = EnumConfig()
BASE, ID = MINIMAL_EVENT, EVENT_ID


def _refused(raw: dict[str, Any]) -> EventValidationError:
    with pytest.raises(EventValidationError) as caught:
        validate_storable_event(raw, ENUMS)
    return caught.value


def _nested(depth: int) -> dict[str, Any]:
    """Metadata `depth` levels deep (the metadata object is level 1)."""
    value: Any = 1
    for level in range(depth - 1):
        value = [value] if level % 2 else {"k": value}
    return {"k": value}


@pytest.mark.parametrize(
    "stamp", ["2026-01-02T15:04:05+16:00", "2026-01-02T15:04:05-23:59", "2026-01-02T15:04:05+99:00"]
)
def test_utc_offsets_beyond_15_59_are_refused(stamp: str) -> None:
    error = _refused({**BASE, "timestamp": stamp})
    assert error.field == "timestamp" and "15:59" in error.message


@pytest.mark.parametrize(
    "stamp", ["2026-01-02T15:04:05+00:60", "2026-01-02T15:04:05-00:99", "2026-01-02T15:04:05+14:60"]
)
def test_utc_offset_minutes_past_59_are_refused(stamp: str) -> None:
    error = _refused({**BASE, "timestamp": stamp})
    assert error.field == "timestamp"


@pytest.mark.parametrize(
    "stamp", ["2026-01-02T15:04:05+15:59", "2026-01-02T15:04:05-15:59", "2026-01-02T15:04:05-00:00"]
)
def test_utc_offsets_up_to_15_59_are_accepted_as_sent(stamp: str) -> None:
    assert validate_event({**BASE, "timestamp": stamp}, ENUMS)["timestamp"] == stamp


@pytest.mark.parametrize(
    "stamp", ["9999-12-31T23:59:59-15:59", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00.5+00:01"]
)
def test_times_outside_years_1_to_9999_in_utc_are_refused(stamp: str) -> None:
    error = _refused({**BASE, "timestamp": stamp})
    assert error.field == "timestamp" and "0001-9999" in error.message


@pytest.mark.parametrize(
    "stamp", ["9999-12-31T23:59:59.999999999Z", "0001-01-01T00:00:00Z", "0001-01-01T10:00:00+10:00"]
)
def test_the_extremes_of_the_utc_range_are_accepted(stamp: str) -> None:
    assert parse_timestamp(stamp).astimezone(UTC).year in (1, 9999)


def test_format_utc_always_writes_four_digit_years() -> None:
    assert format_utc(datetime(820, 2, 17, tzinfo=UTC)) == "0820-02-17T00:00:00.000000Z"
    assert format_utc(datetime(1, 1, 1)) == "0001-01-01T00:00:00.000000Z"  # naive means UTC
    assert format_utc(datetime(820, 2, 17, tzinfo=UTC), "seconds") == "0820-02-17T00:00:00Z"


def test_metadata_depth_is_bounded_and_the_limit_itself_is_accepted() -> None:
    assert validate_event({**BASE, "metadata": _nested(MAX_METADATA_DEPTH)}, ENUMS)["metadata"]
    for depth in (MAX_METADATA_DEPTH + 1, 252, 253, 1023):
        error = _refused({**BASE, "metadata": _nested(depth)})
        assert error.field == "metadata" and str(MAX_METADATA_DEPTH) in error.message


@pytest.mark.parametrize("field", ["targetId", "message"])
def test_empty_strings_in_target_id_and_message_are_kept(field: str) -> None:
    assert validate_event({**BASE, field: ""}, ENUMS)[field] == ""
    assert validate_event(BASE, ENUMS)[field] is None


@pytest.mark.parametrize(
    "spelling",
    [
        f"urn:uuid:{ID}",
        f"{{{ID}}}",
        ID.replace("-", ""),
        "0190a0a00-000-7000-8000-00000000abcd",  # a misplaced hyphen
        f" {ID}",
        f"{ID}\n",
        "0190a0a0-0000-7000-8000-00000000abcg",
    ],
)
@pytest.mark.parametrize("field", ["id", "traceId"])
def test_non_canonical_uuid_spellings_are_refused(field: str, spelling: str) -> None:
    assert _refused({**BASE, field: spelling}).field == field


@pytest.mark.parametrize("field", ["id", "traceId"])
def test_upper_case_uuids_are_normalised_to_lower_case(field: str) -> None:
    assert validate_event({**BASE, field: ID.upper()}, ENUMS)[field] == ID


def test_a_signed_upper_case_uuid_is_refused_rather_than_changed_under_the_signature() -> None:
    signed = {**BASE, "signature": "c2ln", "signatureAlgorithm": "EdDSA", "publicKeyId": "k"}
    assert _refused({**signed, "traceId": ID.upper()}).field == "traceId"  # v1 covers traceId
    assert validate_event({**signed, "id": ID.upper()}, ENUMS)["id"] == ID  # ...but not the id
    v2 = {**signed, "signatureFormat": "v2"}
    assert _refused({**v2, "id": ID.upper()}).field == "id"
    assert validate_event({**v2, "id": ID}, ENUMS)["id"] == ID


def test_the_processor_still_stores_offset_minutes_older_gateways_acknowledged() -> None:
    """An event with +00:60 acknowledged by a gateway before argus-spec 0.2.0 may still be in Kafka
    at the upgrade: the processor stores it (acknowledged means stored) while gateways refuse it now."""
    event = {**BASE, "timestamp": "2026-01-02T15:04:05+00:60"}
    message = RawMessage("argus.events", 0, 7, BASE["actorId"].encode(), orjson.dumps(
        {"v": ENVELOPE_VERSION, "event": event, "source": None, "receivedAt": None}), 1_767_000_000_000)  # fmt: skip
    assert decode_message(message, ENUMS).event["timestamp"] == "2026-01-02T15:04:05+00:60"
    assert _refused(event).field == "timestamp"
