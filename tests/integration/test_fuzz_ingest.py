"""Property test of the ingest promise through the real gateway (subprocess), Kafka, processor and PostgreSQL.

Requests come from two sources, one stream (issue 11, "Done means"):
- schemathesis draws the two ingest operations' bodies and Idempotency-Key headers from the OpenAPI
  document the running gateway serves at /openapi.json (`_schema_request`): everything the
  document allows, with lengths capped for time (`_GENERATION_CAPS`). Three requests in four keep
  to the configured vocabularies (action, actorType, targetType, eventType) and carry no signature,
  which the document cannot express, so many are acknowledged and their content checked;
- hand-written strategies add the input classes of issue 11 the document does not describe or
  forbids (UTC offsets beyond +-15:59, years near 1 and 9999, integers beyond 64 bits, -0, keys at
  or above U+E000, deep nesting, empty strings, odd UUID spellings, large messages, wrong types,
  unknown fields).

For every request: the answer is JSON and never 5xx; every acknowledged event is stored exactly once
with exactly the content sent (compared field by field with what the read API returns), or the
client was told why per item; nothing else is stored. Bounded (max_examples) and derandomized, so
CI runs the same inputs.

Repeated ids come as client retries (a request sent again verbatim), as one event twice in a bulk,
and as an earlier event's id with other content, sent while the earlier one may still be in flight
(issue 11 item 2 and gap A: refused per item, never stored over the first).
"""

from __future__ import annotations

import base64
import json
import math
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from argus_spec import exactjson
from argus_spec.enums import DEFAULT_ACTIONS, DEFAULT_ACTOR_TYPES, DEFAULT_EVENT_TYPES, DEFAULT_TARGET_TYPES
from tests.integration.harness import TOKEN, Stack, chain_problems, wait_for
from tests.integration.test_client_e2e import GatewayProcess, gateway

__all__ = ["gateway"]  # a fixture shared with test_client_e2e

MAX_EXAMPLES = 200
ACTORS = ["fz-a", "fz-b", "fz-c", "fz é|😀"]
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


# --- the inputs --------------------------------------------------------------------------------

# Valid values most of the time (so many events are acknowledged and their content checked), each
# field's edge and invalid classes some of the time.
_offset = st.sampled_from(["Z", "z", "+00:00", "-00:00", "+05:30", "-07:00", "+14:00", "-15:59", "+15:59"])
_fraction = st.sampled_from(["", ".1", ".123456", ".123456789"])
_day = st.sampled_from(["2026-01-02", "2026-03-04", "2024-02-29", "1999-12-31"])
_clock = st.sampled_from(["00:00:00", "15:04:05", "23:59:59"])
_good_ts = st.builds(lambda d, t, f, o: f"{d}T{t}{f}{o}", _day, _clock, _fraction, _offset)
_edge_ts = st.sampled_from([
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-05:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-15:59", "9999-12-31T10:00:00+05:00", "2026-01-02T15:04:05+16:00", "2026-01-02t15:04:05z",
    "2026-01-02T15:04:05-23:59", "2026-02-30T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T23:59:60Z",
    "2026-01-02T15:04:05.1234567891Z", "2026-01-02", "not a time", "",
])  # fmt: skip
_timestamp = st.one_of(_good_ts, _good_ts, _good_ts, _edge_ts)


def _uuid_spellings(value: uuid.UUID) -> list[str]:
    text = str(value)
    misplaced = text[:9] + "-" + text[9:13] + text[14:]
    return [text.upper(), f"urn:uuid:{text}", "{" + text + "}", value.hex, misplaced, text + " "]


FRESH = "<fresh id>"  # replaced by a new id per event when sent: hypothesis re-uses drawn values
_fresh_id = st.uuids().map(str)
_odd_id = st.uuids().flatmap(lambda u: st.sampled_from(_uuid_spellings(u)))
_id = st.sampled_from([None, FRESH, FRESH])

_KEY_CHARS = ["a", "b", "é", "|", "\ud7ff", "\ue000", "｡", "\uffff", "😀", "𐀀", " ", "<", ""]
_key = st.text(st.sampled_from(_KEY_CHARS[:-1]), max_size=4)
_number = (
    st.integers(-(2**53), 2**53)
    | st.sampled_from([2**64, 2**64 - 1, -(2**63) - 1, 10**30, -(10**30), 9007199254740993, 2**53 + 1])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.just(-0.0)
)
_clean_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
_leaf = _number | _clean_text | st.none() | st.booleans()
_metadata_value = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_key, inner, max_size=3), max_leaves=10
)


def _nested(depth: int) -> Any:
    value: Any = {"leaf": 1}
    for _ in range(depth):
        value = {"d": value}
    return value


_metadata = st.none() | st.dictionaries(_key, _metadata_value, max_size=5) | st.sampled_from([20, 30]).map(_nested)
_message_size = st.sampled_from([0, 1, 5, 100, 4096, 300 * 1024])
_message = st.none() | _message_size.map(lambda n: base64.b64encode(bytes(i % 251 for i in range(n))).decode())
_name = st.sampled_from(ACTORS) | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
)

#: One invalid (or borderline) value per field, applied to some events.
_BAD: dict[str, list[Any]] = {
    "id": [
        "",
        "not-a-uuid",
        7,
        "0192F0C4-5E6A-7B8C-9D0E-1F2A3B4C5D6E",
        "urn:uuid:0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e",
    ],
    "traceId": ["", "x", 1, "urn:uuid:0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e", "0192f0c45e6a7b8c9d0e1f2a3b4c5d6e"],
    "timestamp": [None, 1, "2026-01-02T15:04:05+16:00", "9999-12-31T23:59:59-15:59"],
    "eventType": ["", "NOPE", 1],
    "action": [None, "", "create", "NOPE"],
    "status": [None, "", "OK"],
    "actorType": [None, "", "ROBOT"],
    "actorId": [None, "", "x" * 1024, "x" * 1025, "a\x00b", "\ud800", 5],
    "targetType": [None, "", "THING"],
    "targetId": ["", "x" * 1025, "\ud800", False],
    "message": ["", "not base64!", "aGVsbG8", 3],
    "metadata": [[], "x", 1, _nested(31), _nested(32), _nested(33), _nested(64), _nested(252), {"": {"\ud800": 1}}],
    "unknownField": [1],
}


@st.composite
def _event(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": draw(_id),
        "timestamp": draw(_timestamp),
        "traceId": draw(st.none() | _fresh_id | _fresh_id.map(str.upper)),
        "eventType": draw(st.sampled_from([None, "MANAGEMENT_EVENT", "USER_MANAGEMENT", "DATA_FETCH"])),
        "action": draw(st.sampled_from(["CREATE", "READ", "UPDATE", "DELETE"])),
        "status": draw(st.sampled_from(["SUCCESS", "FAILURE"])),
        "actorType": draw(st.sampled_from(["SERVICE", "ADMIN", "MEMBER", "SYSTEM"])),
        "actorId": draw(_name),
        "targetType": draw(st.sampled_from(["SERVICE", "RESOURCE"])),
        "targetId": draw(st.none() | st.just("") | _name),
        "message": draw(_message),
        "metadata": draw(_metadata),
    }
    event = {k: v for k, v in event.items() if v is not None or draw(st.booleans())}  # null or absent
    if draw(st.integers(0, 3)) == 0:
        name = draw(st.sampled_from(sorted(_BAD)))
        event[name] = draw(st.sampled_from(_BAD[name]) | (_odd_id if name in ("id", "traceId") else st.nothing()))
    return event


#: A request: (bulk?, its events (one for a single POST), its Idempotency-Key header or None).
Request = tuple[bool, list[Any], str | None]
_handwritten = st.tuples(st.booleans(), st.lists(_event(), min_size=1, max_size=4), st.none())

#: Bounds on what schemathesis draws from the served document, for time only: the large-message
#: class is the hand-written strategies' (300 KiB), and bulks of 1,000 events add nothing per request.
_GENERATION_CAPS = {"maxLength": 4096, "maxItems": 4}
_SIGNATURE_FIELDS = ("signature", "signatureAlgorithm", "publicKeyId", "signatureFormat")
_VOCABULARIES = {
    "action": DEFAULT_ACTIONS, "actorType": DEFAULT_ACTOR_TYPES, "targetType": DEFAULT_TARGET_TYPES,
    "eventType": DEFAULT_EVENT_TYPES,
}  # fmt: skip


def _capped(node: Any) -> Any:
    """A copy of the served document with `_GENERATION_CAPS` applied wherever it allows more."""
    if isinstance(node, list):
        return [_capped(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: min(value, _GENERATION_CAPS[key]) if key in _GENERATION_CAPS and isinstance(value, int) else _capped(value)
        for key, value in node.items()
    }


def _schema_requests(document: dict[str, Any]) -> st.SearchStrategy[Request]:
    """Single and bulk ingest requests drawn by schemathesis from the served OpenAPI document."""
    schema = schemathesis.openapi.from_dict(_capped(document))
    single = schema["/api/audit-logs"]["POST"].as_strategy()
    bulk = schema["/api/audit-logs/bulk"]["POST"].as_strategy()
    return _schema_request(single, False) | _schema_request(bulk, True)


@st.composite
def _schema_request(draw: st.DrawFn, cases: st.SearchStrategy[Any], bulk: bool) -> Request:
    case = draw(cases)
    events = [dict(event) for event in case.body] if bulk else [dict(case.body)]
    if draw(st.integers(0, 3)):  # within the configured vocabularies, unsigned
        for event in events:
            for name, allowed in _VOCABULARIES.items():
                if name in event and (name != "eventType" or event[name] is not None):
                    event[name] = draw(st.sampled_from(sorted(allowed)))
            for name in _SIGNATURE_FIELDS:
                event.pop(name, None)
    return bulk, events, case.headers.get("Idempotency-Key")


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the run saw; reported at the end (issue 11 asks for these numbers)."""

    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    acknowledged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # stored id -> events sent under it
    refused: int = 0
    sent: list[Request] = field(default_factory=list)  # for retries
    schema_driven: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # "status field" of each refused item
    ids: int = 0

    def fresh_id(self) -> str:
        self.ids += 1
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"argus-fuzz-{self.ids}"))


def _post(url: str, body: bytes, key: str | None) -> tuple[int, Any]:
    headers = dict(HEADERS)
    if key is not None:  # on the wire as UTF-8 (http.client writes header values as Latin-1)
        headers["Idempotency-Key"] = key.encode("utf-8", "surrogateescape").decode("latin-1")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw, kind = response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read(), error.headers.get_content_type()
    assert kind == "application/json", f"{status} answered {kind}: {raw[:300]!r}"
    return status, exactjson.loads(raw)


def _request_events(tally: Tally, drawn: Request, retry: int, which: int, repeat: int) -> Request:
    """The request to send: a retry of an earlier one, or the drawn events with fresh ids filled in,
    sometimes one event twice in a bulk, sometimes an earlier id with this (other) content, sent at
    once: the earlier event may still be in flight (the gateway's recent ids refuse it, gap A)."""
    if retry == 0 and tally.sent:
        return tally.sent[which % len(tally.sent)]
    bulk, events, key = drawn
    events = [{**e, "id": tally.fresh_id()} if e.get("id") == FRESH else e for e in events]
    if bulk and repeat == 0:
        events.append(events[0])
    if repeat == 1 and tally.acknowledged:
        earlier = sorted(tally.acknowledged)[which % len(tally.acknowledged)]
        events[0] = {**events[0], "id": earlier}
    tally.sent.append((bulk, events, key))
    return bulk, events, key


def _send(gateway: GatewayProcess, tally: Tally, request: Request) -> None:
    bulk, events, key = request
    body = json.dumps(events if bulk else events[0]).encode()  # stdlib: big ints exact, lone surrogates escaped
    sent = events if bulk else events[:1]
    status, answer = _post(f"{gateway.url}/api/audit-logs{'/bulk' if bulk else ''}", body, key)
    tally.requests += 1
    if status >= 500:
        tally.server_errors.append(f"{status} {answer} for {body[:500]!r}")
        return
    if not bulk:
        if status in (200, 201):
            tally.acknowledged.setdefault(answer["id"], []).append(sent[0])
        else:
            assert 400 <= status < 500 and answer.get("message"), (status, answer)
            tally.refused += 1
            tally.reasons[f"{status} {answer.get('field')}"] += 1
        return
    assert status in (200, 201, 207, 400, 409, 413), (status, answer)
    if "succeeded" not in answer:  # the whole request refused (unparseable body, too large): told why
        assert status in (400, 409, 413) and answer.get("message"), (status, answer)
        tally.refused += len(sent)
        tally.reasons[f"{status} {answer.get('field')}"] += len(sent)
        return
    told = sorted([item["index"] for item in answer["succeeded"]] + [item["index"] for item in answer["failed"]])
    assert told == list(range(len(sent))), f"every item must be answered once: {answer}"
    for item in answer["failed"]:
        assert item.get("error"), item
        tally.reasons[f"{item['status']} {item['field']}"] += 1
    for item in answer["succeeded"]:
        tally.acknowledged.setdefault(item["id"], []).append(sent[item["index"]])
    tally.refused += len(answer["failed"])


def _same_json(stored: Any, sent: Any) -> bool:
    """Equal as JSON values: every integer digit, strings exactly; a float may come back as the integer
    text JCS writes for it (1e20 -> 100000000000000000000): the same IEEE double."""
    if isinstance(sent, dict):
        return (
            isinstance(stored, dict)
            and stored.keys() == sent.keys()
            and all(_same_json(stored[k], v) for k, v in sent.items())
        )
    if isinstance(sent, list):
        return isinstance(stored, list) and len(stored) == len(sent) and all(map(_same_json, stored, sent))
    if type(sent) is float or type(stored) is float:
        if type(stored) not in (int, float) or type(sent) not in (int, float):
            return False
        return float(stored) == float(sent) and math.copysign(1, float(stored)) == math.copysign(1, float(sent))
    return type(stored) is type(sent) and stored == sent


def _mismatches(record: dict[str, Any], sent: dict[str, Any]) -> list[str]:
    found = []
    for name, value in sent.items():
        if name == "id" and value is None:
            continue
        stored = record.get(name)
        if name in _SIGNATURE_FIELDS and value == "":  # docs/api.md: only the signature fields read "" as absent
            ok = stored is None
        elif name in ("id", "traceId") and isinstance(value, str):
            ok = stored == value.lower()  # one UUID, case-insensitive (RFC 9562); stored in its lower-case spelling
        elif name == "metadata":
            ok = _same_json(stored, value)
        else:
            ok = stored == value
        if not ok:
            found.append(f"{name}: sent {str(value)[:120]!r}, stored {str(stored)[:120]!r}")
    for name in ("traceId", "eventType", "targetId", "message", "metadata"):
        if name not in sent and record.get(name) is not None:
            found.append(f"{name}: not sent, stored {str(record.get(name))[:80]!r}")
    return found


def _read(gateway: GatewayProcess, record_id: str) -> Any:
    url = f"{gateway.url}/api/audit-logs/{record_id}?includeMessage=true"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return exactjson.loads(response.read())


def _all_consumed(stack: Stack) -> bool:
    """Every message of the topic is behind a committed batch (stored, dead-lettered or skipped)."""
    end = stack.end_offsets(stack.topic)
    rows = stack.query(
        "SELECT kafka_partition, max(last_offset) AS last FROM partition_commits GROUP BY kafka_partition"
    )
    return sum(row.last + 1 for row in rows) == end


ISSUE_CASES: list[dict[str, Any]] = [
    {"metadata": {"a": 2**64, "b": 10**30, "c": -(10**30)}},  # item 3
    {"metadata": {"😀": 1, "n": 9007199254740993}},  # item 4
    {"metadata": {"｡": {"z": -0.0}, "n": -(2**63) - 1}},
    {"timestamp": "2026-01-02T15:04:05+16:00"},  # item 1
    {"timestamp": "9999-12-31T23:59:59-15:59"},  # item 9
    {"message": "", "targetId": ""},  # item 5
    {"metadata": _nested(252)},  # item 10
]


def test_fuzzed_requests_are_stored_exactly_or_refused_per_item(stack: Stack, gateway: GatewayProcess) -> None:
    stack.start_processor()
    tally = Tally()
    with urllib.request.urlopen(f"{gateway.url}/openapi.json", timeout=30) as response:
        served = json.loads(response.read())
    from_document = _schema_requests(served).map(lambda r: (True, r))  # half the requests, half hand-written
    _handwritten_tagged = _handwritten.map(lambda r: (False, r))

    base: dict[str, Any] = {
        "timestamp": "2026-01-02T15:04:05Z", "status": "SUCCESS", "action": "CREATE", "actorType": "SERVICE",
        "actorId": "fz-a", "targetType": "RESOURCE",
    }  # fmt: skip

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        st.tuples(st.booleans().flatmap(lambda schema: from_document if schema else _handwritten_tagged),
                  st.integers(0, 7), st.integers(0, 999), st.integers(0, 5))
    )  # fmt: skip
    def run(request: tuple[tuple[bool, Request], int, int, int]) -> None:
        (from_schema, drawn), retry, which, repeat = request
        tally.schema_driven += from_schema
        _send(gateway, tally, _request_events(tally, drawn, retry, which, repeat))

    for case in ISSUE_CASES:
        run = example(((False, (False, [{**base, **case}], None)), 1, 0, 1))(run)
    started = time.monotonic()
    run()
    elapsed = time.monotonic() - started

    wait_for(lambda: _all_consumed(stack), 180, lambda: f"the processor to consume every message\n{stack.logs()}")
    stored = {row.id: row for row in stack.query("SELECT id FROM audit_records")}
    acknowledged = tally.acknowledged
    lost = sorted(set(acknowledged) - set(stored))
    unexpected = sorted(set(stored) - set(acknowledged))
    changed: list[str] = []
    for record_id, sent_versions in acknowledged.items():
        if record_id not in stored:
            continue
        record = _read(gateway, record_id)
        for sent in sent_versions:  # a repeated id is acknowledged only for the very same content
            if problems := _mismatches(record, sent):
                changed.append(f"{record_id}: {problems}")
    dead = [row.reason for row in stack.query("SELECT reason FROM dead_letters")]
    print(
        json.dumps(
            {
                "fuzzRequests": tally.requests,
                "fromServedOpenApi": tally.schema_driven,
                "seconds": round(elapsed, 1),
                "serverErrors": len(tally.server_errors),
                "acknowledged": len(acknowledged),
                "refusedItems": tally.refused,
                "refusedBy": dict(tally.reasons.most_common(12)),
                "acknowledgedButNotStored": len(lost),
                "storedButNotAcknowledged": len(unexpected),
                "storedButChanged": len(changed),
                "deadLetters": len(dead),
            }
        )
    )
    assert tally.server_errors == [], tally.server_errors[:5]
    assert lost == [], f"acknowledged, not stored: {lost[:5]}; dead letters: {dead[:5]}"
    assert unexpected == [], f"stored without acknowledgement: {unexpected[:5]}"
    assert changed == [], changed[:5]
    assert dead == [], dead[:5]
    assert chain_problems(stack.records()) == []
