"""The caller-side encoder: same verdicts as validate_event, an id per event, and a true snapshot."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus_client.encoder import EventEncoder, as_sign_fn
from argus_spec.enums import EnumConfig
from argus_spec.event import EventValidationError, validate_event

ENUMS = EnumConfig()
ENCODER = EventEncoder(ENUMS)
BASE: dict[str, Any] = {
    "timestamp": "2026-03-04T05:06:07.123456Z",
    "status": "SUCCESS",
    "action": "CREATE",
    "actorType": "SERVICE",
    "actorId": "svc-orders",
    "targetType": "RESOURCE",
    "targetId": "doc-1",
    "eventType": "DATA_FETCH",
    "metadata": {"path": "/x", "n": 1},
}

#: Values chosen to hit every rule's edges: wrong types, empties, NUL, lengths, near-valid strings.
ODD_VALUES: st.SearchStrategy[Any] = st.sampled_from(
    [
        None,
        "",
        "x",
        0,
        5,
        1.5,
        True,
        [],
        {},
        ["CREATE"],
        "\x00",
        "a\x00b",
        "A" * 1024,
        "A" * 1025,
        "CREATE",
        "READ",
        "SUCCESS",
        "FAILURE",
        "SERVICE",
        "RESOURCE",
        "DATA_FETCH",
        "create",
        "SUCCESS ",
        "2026-03-04T05:06:07Z",
        "2026-03-04t05:06:07z",
        "2026-02-30T05:06:07Z",
        "2026-03-04T05:06:07.1234567891Z",
        "2026-03-04T05:06:07+05:30",
        "2026-03-04T05:06:07+15:59",
        "2026-03-04T05:06:07+16:00",
        "2026-03-04T05:06:07+00:60",
        "2026-03-04T05:06:07-05:99",
        "9999-12-31T23:59:59-15:59",
        "0001-01-01T00:00:00+14:00",
        "2026-03-04T05:06:07Z\n",
        "2026-03-04 05:06:07Z",
        "0190a0a0-0000-7000-8000-000000000000",
        "0190A0A0-0000-7000-8000-00000000000F",
        "{0190a0a0-0000-7000-8000-00000000000}",
        "0190a0a000007000800000000000000000ab",
        "0190a0a0-0000-7000-8000-00000000000g",
        "urn:uuid:0190a0a0-0000-7000-8000-000000000000",
        "c2lnbmF0dXJl",
        {"a": [[{"b": 1}]]},
        {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
        "***",
    ]
)
FIELDS: st.SearchStrategy[str] = st.sampled_from(
    ["id", "timestamp", "traceId", "eventType", "action", "status", "actorType", "actorId", "targetType",
     "targetId", "message", "metadata", "signature", "signatureAlgorithm", "publicKeyId", "signatureFormat",
     "colour", "$"]
)  # fmt: skip


def _verdict(fn: Any, raw: Any) -> tuple[str, Any]:
    try:
        event = fn(raw)
    except EventValidationError as exc:
        return "error", exc.field
    return "ok", {k: v for k, v in event.items() if k != "id"}


@settings(max_examples=3000, deadline=None)
@given(st.dictionaries(FIELDS, ODD_VALUES, max_size=4), st.lists(FIELDS, max_size=2))
def test_fast_path_agrees_with_validate_event(changes: dict[str, Any], removed: list[str]) -> None:
    raw = {**BASE, **changes}
    for name in removed:
        raw.pop(name, None)
    fast = ENCODER._fast(raw)
    reference = _verdict(lambda r: validate_event(r, ENUMS, assign_id=False), raw)
    if fast is not None:  # the fast path only accepts what validate_event accepts, normalized identically
        assert reference == ("ok", {k: v for k, v in fast.items() if k != "id"})
        assert fast["id"] == validate_event(raw, ENUMS, assign_id=False)["id"]
    assert _verdict(ENCODER.normalize, raw) == reference


@pytest.mark.parametrize("stamp", ["2026-03-04T05:06:07+00:60", "2026-03-04T05:06:07-05:99"])
def test_offset_minutes_past_59_are_refused_as_the_gateway_does(stamp: str) -> None:
    """The fast path once took +00:99 (parse_timestamp reads it as +01:39): the SDK queued an event
    the gateway answers 400."""
    raw = {**BASE, "timestamp": stamp}
    want = _verdict(lambda r: validate_event(r, ENUMS), raw)
    assert _verdict(ENCODER.normalize, raw) == want == ("error", "timestamp")


def test_the_common_event_takes_the_fast_path() -> None:
    assert ENCODER._fast(BASE) is not None
    assert ENCODER._fast({**BASE, "traceId": str(uuid.uuid4()), "id": str(uuid.uuid4())}) is not None


def test_an_id_is_assigned_once_and_kept() -> None:
    first = orjson.loads(ENCODER.encode(BASE))
    assert uuid.UUID(first["id"]).version == 7
    assert orjson.loads(ENCODER.encode(BASE))["id"] != first["id"]
    given_id = str(uuid.uuid4())
    assert orjson.loads(ENCODER.encode({**BASE, "id": given_id}))["id"] == given_id


def test_the_encoded_event_is_a_snapshot() -> None:
    event = {**BASE, "metadata": {"roles": ["reader"]}}
    text = ENCODER.encode(event)
    event["metadata"]["roles"].append("admin")  # the caller reuses its dict afterwards
    assert orjson.loads(text)["metadata"] == {"roles": ["reader"]}


def test_bad_events_raise_naming_the_field() -> None:
    for raw, field in [
        ({**BASE, "status": "MAYBE"}, "status"),
        ({k: v for k, v in BASE.items() if k != "actorId"}, "actorId"),
        ({**BASE, "colour": "red"}, "colour"),
        ({**BASE, "metadata": {"when": {1, 2}}}, "metadata"),  # not JSON-serializable
        ([BASE], "$"),
    ]:
        with pytest.raises(EventValidationError) as caught:
            ENCODER.encode(raw)
        assert caught.value.field == field


def test_custom_enums_are_honoured() -> None:
    encoder = EventEncoder(EnumConfig(actions=frozenset({"APPROVE"})))
    assert orjson.loads(encoder.encode({**BASE, "action": "APPROVE"}))["action"] == "APPROVE"
    with pytest.raises(EventValidationError):
        encoder.encode(BASE)


def test_signer_shapes() -> None:
    def plain(event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "signature": "c2ln"}

    class WithMethod:
        def sign_event(self, event: dict[str, Any]) -> dict[str, Any]:
            return plain(event)

    assert as_sign_fn(plain) is plain
    assert as_sign_fn(WithMethod())(BASE)["signature"] == "c2ln"
    with pytest.raises(TypeError):
        as_sign_fn(42)
