"""Committed records as OCSF API Activity events (sinks/ocsf.py), validated against the OCSF 1.5.0
schema as compiled into the `pydantic-ocsf` models."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from ocsf.v1_5_0.events import APIActivity

from sinks import ocsf
from sinks.formats import render_from_url
from sinks.syslog_format import ocsf_payload

RECORD: dict[str, Any] = {
    "id": "0190f3c2-0000-7000-8000-000000000001", "timestamp": "2026-03-04T05:06:07.123456Z",
    "traceId": "trace-1", "eventType": "DATA_FETCH", "action": "READ", "status": "SUCCESS",
    "actorType": "SERVICE", "actorId": "svc-a", "targetType": "RESOURCE", "targetId": "doc-1",
    "message": "read it", "metadata": '{"a":1}', "signature": None, "signatureAlgorithm": None,
    "publicKeyId": None, "signatureFormat": None, "source": "direct",
    "receivedAt": "2026-03-04T05:06:08Z", "seq": 7, "previousHash": "00" * 32, "currentHash": "ab" * 32,
}  # fmt: skip


def validate(event: dict[str, Any]) -> APIActivity:
    """Schema validation, plus what the models let pass: no top-level attribute the class lacks."""
    assert set(event) <= set(APIActivity.model_fields), set(event) - set(APIActivity.model_fields)
    return APIActivity.model_validate(copy.deepcopy(event))  # the models normalize their input in place


@pytest.mark.parametrize(
    ("action", "status", "activity", "status_id"),
    [("CREATE", "SUCCESS", 1, 1), ("READ", "FAILURE", 2, 2), ("UPDATE", "SUCCESS", 3, 1),
     ("DELETE", "SUCCESS", 4, 1), ("LOGIN", "PENDING", 99, 99)],
)  # fmt: skip
def test_every_action_and_status_maps_to_a_valid_api_activity(action: str, status: str, activity: int,
                                                              status_id: int) -> None:  # fmt: skip
    event = ocsf.to_ocsf({**RECORD, "action": action, "status": status})
    model = validate(event)
    assert (model.class_uid, model.category_uid, model.activity_id, model.type_uid) == (6003, 6, activity,
                                                                                        600300 + activity)  # fmt: skip
    assert event["status_id"] == status_id
    assert event["time"] == 1772600767123 and event["metadata"]["logged_time"] == 1772600768000
    assert event["metadata"]["uid"] == RECORD["id"] and event["metadata"]["correlation_uid"] == "trace-1"
    assert event["actor"]["user"] == {"uid": "svc-a", "type": "System", "type_id": 3}
    assert event["api"]["operation"] == action and event["resources"] == [{"uid": "doc-1", "type": "RESOURCE"}]
    assert event["unmapped"]["currentHash"] == RECORD["currentHash"] and event["unmapped"]["seq"] == 7
    if activity == 99:
        assert event["activity_name"] == action and event["status"] == status


def test_minimal_record_and_every_sink_format() -> None:
    sparse = {**RECORD, "traceId": None, "message": None, "source": None, "timestamp": "not a time"}
    validate(ocsf.to_ocsf(sparse))
    validate(orjson.loads(ocsf_payload(RECORD)))
    assert render_from_url("console://stdout?format=ocsf")(RECORD) == ocsf.to_ocsf(RECORD)
    assert render_from_url("kafka:///t")(RECORD) is RECORD
