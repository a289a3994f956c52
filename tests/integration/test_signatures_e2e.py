"""Signed events end to end: gateway checks, processor checks (authoritative), dead letters, policy."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from argus.runtime.settings import load_settings
from argus_client.signing import PemSigner, sign_event
from argus_spec.canonical import signing_bytes_v1
from argus_spec.signature import verify_event
from argus_spec.uuid7 import uuid7
from ingest_gateway.app import init
from tests.integration.harness import TOKEN, Stack, chain_problems, keys_config, make_event, wait_for

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "signatures"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _signer(name: str, key_id: str) -> PemSigner:
    return PemSigner.from_pem((VECTORS / f"{name}.private.pem").read_bytes(), key_id)


ED25519 = _signer("test-ed25519-2026", "ed-2026")
RSA = _signer("test-rsa-2026", "rsa-2026")


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    keys = {"ed-2026": "test-ed25519-2026", "rsa-2026": "test-rsa-2026", "ed-expired": "test-ed25519-2025"}
    return {"ARGUS_KEYS_CONFIG": str(keys_config(tmp_path, keys, not_after={"ed-expired": "2025-12-31T00:00:00Z"}))}


async def test_signed_events_through_the_gateway(stack: Stack, gateway: TestClient[Any, Any]) -> None:
    ambiguous_text = "svc-signed|SERVICE"  # as the reference Go client signs it: the v1 string as is
    ambiguous_event = make_event("svc-signed", 8, targetId=ambiguous_text)
    ambiguous_event["signature"] = base64.b64encode(ED25519(signing_bytes_v1(ambiguous_event))).decode()
    ambiguous_event.update(signatureAlgorithm="EdDSA", publicKeyId="ed-2026")
    good = [
        sign_event(make_event("svc-signed", 1), ED25519),
        sign_event(make_event("svc-signed", 2), RSA),
        sign_event(make_event("svc-signed", 3, id=uuid7()), ED25519, format="v2"),
        ambiguous_event,
    ]
    for event in good:
        response = await gateway.post("/api/audit-logs", json=event, headers=AUTH)
        assert response.status == 201, await response.text()
        event["id"] = (await response.json())["id"]

    tampered = {**sign_event(make_event("svc-signed", 4), ED25519), "targetId": "someone-else"}
    wrong_algorithm = {**sign_event(make_event("svc-signed", 5), RSA), "publicKeyId": "ed-2026"}
    unknown_key = {**sign_event(make_event("svc-signed", 6), ED25519), "publicKeyId": "nobody"}
    expired = sign_event(make_event("svc-signed", 7), _signer("test-ed25519-2025", "ed-expired"))
    for bad, words in (
        (tampered, "does not verify"),
        (wrong_algorithm, "RS256"),
        (unknown_key, "unknown publicKeyId"),
        (expired, "expired"),
    ):
        response = await gateway.post("/api/audit-logs", json=bad, headers=AUTH)
        body = await response.json()
        assert response.status == 400, body
        assert words in body["message"] + body.get("field", ""), body

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 4, 90, lambda: f"4 stored\n{stack.logs()}")
    records = stack.records()
    assert chain_problems(records) == []
    for record, sent in zip(records, good, strict=True):
        for key in ("signature", "signatureAlgorithm", "publicKeyId", "id", "targetId"):
            assert record[key] == sent[key], key
    flags = stack.query("SELECT id, signature_ambiguous FROM audit_records")
    assert {row.id for row in flags if row.signature_ambiguous} == {ambiguous_event["id"]}
    public = load_pem_public_key((VECTORS / "test-ed25519-2026.pem").read_bytes())  # stored == signed
    event_fields = {k: v for k, v in records[0].items() if k in good[0]}
    event_fields["metadata"] = good[0]["metadata"]
    verify_event(event_fields, public)


def test_processor_verifies_direct_kafka_writes_and_dead_letters_failures(stack: Stack) -> None:
    good = sign_event(make_event("svc-direct", 1, id=uuid7()), RSA)
    forged = {**sign_event(make_event("svc-direct", 2, id=uuid7()), ED25519), "metadata": {"tampered": True}}
    unsigned = make_event("svc-direct", 3, id=uuid7())
    stack.produce_envelopes([good, forged, unsigned])
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 2, 90, lambda: f"2 stored\n{stack.logs()}")
    wait_for(lambda: len(stack.query("SELECT 1 FROM dead_letters")) == 1, 30, "1 dead letter")
    records = stack.records()
    assert [r["id"] for r in records] == [good["id"], unsigned["id"]]
    assert records[0]["signature"] == good["signature"] and records[0]["source"] == "direct"
    [reason] = [row.reason for row in stack.query("SELECT reason FROM dead_letters")]
    assert reason == "signature: does not verify"
    [message] = stack.topic_messages(stack.dlq_topic, expected=1)
    assert dict(message.headers())["argus.reason"] == b"signature: does not verify"


async def test_require_signatures_rejects_unsigned_events(stack: Stack) -> None:
    stack.extra_env["REQUIRE_SIGNATURES"] = "true"
    client = TestClient(TestServer(init(load_settings(stack.settings_env()))))
    await client.start_server()
    try:
        response = await client.post("/api/audit-logs", json=make_event("svc-strict", 1), headers=AUTH)
        assert response.status == 400
        assert (await response.json())["field"] == "signature"
        signed = sign_event(make_event("svc-strict", 2), ED25519)
        assert (await client.post("/api/audit-logs", json=signed, headers=AUTH)).status == 201
    finally:
        await client.close()
    stack.produce_envelopes([make_event("svc-strict", 3, id=uuid7())])  # unsigned, straight to Kafka
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 1, 90, lambda: f"1 stored\n{stack.logs()}")
    wait_for(lambda: len(stack.query("SELECT 1 FROM dead_letters")) == 1, 30, "1 dead letter")
    assert stack.query("SELECT reason FROM dead_letters")[0].reason == "signature: required"
