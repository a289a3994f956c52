"""The OpenAPI document is as strict as the validation wherever JSON Schema can say it: what
`validate_event` accepts the schema accepts, and the refusals it can express it expresses too
(schema-driven clients and fuzzers then generate what the gateway takes)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from argus_spec.enums import EnumConfig
from argus_spec.event import MAX_MESSAGE_B64_LEN, EventValidationError, validate_event
from ingest_gateway.openapi import document
from tests.event_samples import EVENT_ID, MINIMAL_EVENT

DOC = document()
BASE, ID = MINIMAL_EVENT, EVENT_ID


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(
        {**schema, "components": DOC["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


EVENT = _validator({"$ref": "#/components/schemas/Event"})
BULK = _validator(DOC["paths"]["/api/audit-logs/bulk"]["post"]["requestBody"]["content"]["application/json"]["schema"])


def _accepted(raw: dict[str, Any]) -> bool:
    try:
        validate_event(raw, EnumConfig())
    except EventValidationError:
        return False
    return True


ACCEPTED = [
    {},
    {"timestamp": "2026-01-02T15:04:05+15:59"},
    {"timestamp": "2026-01-02T15:04:05.123456789-15:59"},
    {"id": ID, "traceId": ID.upper()},
    {"targetId": "", "message": ""},
    {"message": "cGF5bG9hZA=="},
    {"actorId": "a" * 1024},
    {"metadata": {"a": [{"b": None}]}},
]
REFUSED = [
    {"timestamp": "2026-01-02T15:04:05+16:00"},
    {"timestamp": "2026-01-02T15:04:05-23:59"},
    {"timestamp": "2026-01-02 15:04:05Z"},
    {"timestamp": "2026-01-02T15:04:05"},
    {"id": f"urn:uuid:{ID}"},
    {"id": f"{{{ID}}}"},
    {"traceId": ID.replace("-", "")},
    {"traceId": "0190a0a00-000-7000-8000-00000000abcd"},
    {"actorId": ""},
    {"actorId": "a" * 1025},
    {"targetId": "t" * 1025},
    {"actorId": "a\x00b"},
    {"message": "not base64!"},
    {"message": "A" * (MAX_MESSAGE_B64_LEN + 4)},
    {"signature": "***", "signatureAlgorithm": "EdDSA", "publicKeyId": "k"},
    {"status": "MAYBE"},
    {"eventType": ""},
    {"id": ""},
    {"colour": "red"},
]


@pytest.mark.parametrize("change", ACCEPTED)
def test_what_validation_accepts_the_schema_accepts(change: dict[str, Any]) -> None:
    event = {**BASE, **change}
    assert _accepted(event)
    assert not list(EVENT.iter_errors(event))


@pytest.mark.parametrize("change", REFUSED)
def test_what_the_schema_can_express_it_refuses_as_validation_does(change: dict[str, Any]) -> None:
    event = {**BASE, **change}
    assert not _accepted(event)
    assert list(EVENT.iter_errors(event)), change


def test_bulk_bodies_are_bounded_like_the_gateway() -> None:
    assert list(BULK.iter_errors([]))
    assert not list(BULK.iter_errors([BASE]))
    assert list(BULK.iter_errors([BASE] * 1001))


def test_every_api_operation_documents_json_errors_and_405_carries_allow() -> None:
    assert "Allow" in DOC["components"]["responses"]["405"]["headers"]
    for path, operations in DOC["paths"].items():
        if path.startswith("/api/"):
            for operation in operations.values():
                assert {"400", "401", "403", "500", "503"} <= set(operation["responses"]), path
