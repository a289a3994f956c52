"""The published JSON Schema of committed records (argus/schemas, docs/schemas): it describes
exactly RECORD_FIELDS, in order, and rejects what a committed record never is. Every record the
sinks deliver in the integration tests is validated against it too (test_sink_conformance.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from argus import schemas
from argus_spec.hashchain import RECORD_FIELDS

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = Draft202012Validator(schemas.load())
RECORD: dict[str, Any] = {
    "id": "0190f3c2-0000-7000-8000-000000000001", "timestamp": "2026-03-04T05:06:07.123456Z", "traceId": None,
    "eventType": "DATA_FETCH", "action": "READ", "status": "SUCCESS", "actorType": "SERVICE", "actorId": "svc-a",
    "targetType": "RESOURCE", "targetId": "doc-1", "message": None, "metadata": '{"a":1}', "signature": None,
    "signatureAlgorithm": None, "publicKeyId": None, "signatureFormat": None, "source": "default",
    "receivedAt": "2026-03-04T05:06:08.000000Z", "seq": 1, "previousHash": "0" * 64, "currentHash": "ab" * 32,
}  # fmt: skip


def test_schema_is_valid_and_names_every_record_field_in_order() -> None:
    Draft202012Validator.check_schema(schemas.load())
    assert tuple(schemas.load()["properties"]) == RECORD_FIELDS == tuple(schemas.load()["required"])
    assert (ROOT / "docs/schemas/committed-record.v1.json").read_bytes() == (
        ROOT / "argus/schemas/committed-record.v1.json"
    ).read_bytes()
    VALIDATOR.validate(RECORD)


@pytest.mark.parametrize(
    "change",
    [{"seq": 0}, {"currentHash": "AB" * 32}, {"previousHash": None}, {"actorId": None}, {"extra": 1},
     {"metadata": {"a": 1}}, {"seq": "1"}],
)  # fmt: skip
def test_what_a_committed_record_never_is_is_rejected(change: dict[str, Any]) -> None:
    assert not VALIDATOR.is_valid({**RECORD, **change})
    missing = dict(RECORD)
    del missing["receivedAt"]
    assert not VALIDATOR.is_valid(missing)
