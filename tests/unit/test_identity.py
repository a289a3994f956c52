"""Ids derived for id-less events are stable, distinct where they must be, and valid UUIDv8."""

from __future__ import annotations

import uuid

from argus.trust.identity import content_digest, content_id, idempotency_id


def test_content_digest_ignores_the_id_and_sees_every_other_field() -> None:
    event = {"id": "a", "timestamp": "2026-01-02T15:04:05Z", "actorId": "svc", "action": "CREATE"}
    assert content_digest(event, '{"a":1}') == content_digest({**event, "id": "b"}, '{"a":1}')
    assert content_digest(event, '{"a":1}') != content_digest(event, '{"a":2}')
    assert content_digest(event, None) != content_digest({**event, "targetId": ""}, None)


def test_derived_ids_are_stable_uuid8_and_separate_callers() -> None:
    digest = content_digest({"actorId": "svc"}, None)
    value = content_id("billing", digest)
    assert value == content_id("billing", digest) != content_id("orders", digest)
    parsed = uuid.UUID(value)
    assert parsed.version == 8 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    assert idempotency_id("billing", "k", 0) == idempotency_id("billing", "k", 0)
    ids = {idempotency_id("billing", "k", 0), idempotency_id("billing", "k", 1), idempotency_id(None, "k", 0)}
    assert len(ids) == 3
    assert idempotency_id("a", "bc", 0) != idempotency_id("ab", "c", 0)  # parts never run together
