"""Signed ingest receipts end to end (docs/receipts.md): the real gateway signs, Kafka carries the
attestation, the processor verifies it before chaining and stores it; claims nobody attested are
stored without them (or dead-lettered by policy). Real Kafka writes, real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from argus.db.engine import make_engine
from argus.trust.receipt_keys import ReceiptSigner
from argus_client.client import AuditClient
from argus_commands.main import main as argus_main
from argus_spec.envelope import encode_envelope, message_key
from argus_spec.note import Signer, Verifier
from argus_spec.receipt import BatchSignature, ReceiptError, verify_receipt
from argus_spec.uuid7 import uuid7
from tests.integration.harness import (
    LOG_VERIFIER_KEY,
    RECEIPT_VERIFIER_KEY,
    TOKEN,
    TOKEN_NAME,
    Stack,
    attested_envelope,
    make_event,
    request_attestations,
    running_stack,
    wait_for,
    wait_until_consumed,
)
from tests.integration.test_client_e2e import PATIENT_RETRY, GatewayProcess

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GATEWAY_KEY = Verifier.parse(RECEIPT_VERIFIER_KEY)
CLAIMED_AT = "2020-01-01T00:00:00.000000Z"


def _stored(stack: Stack) -> dict[str, Any]:
    rows = stack.query("SELECT id, source, received_at, kafka_topic, kafka_partition, kafka_offset, attestation, "
                       "unattested_claim FROM audit_records")  # fmt: skip
    return {row.id: row for row in rows}


async def test_every_accepted_event_gets_a_receipt_that_matches_its_stored_record(
    stack: Stack, gateway: TestClient[Any, Any]
) -> None:
    single = make_event("svc-receipts", 1, id=uuid7())
    response = await gateway.post("/api/audit-logs", json=single, headers=AUTH)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert {"id", "status", "partition", "offset"} <= body.keys()  # what existing clients read stays
    receipts = [body["receipt"]]

    bulk = [make_event("svc-receipts", i) for i in range(2, 6)] + [make_event("svc-receipts", 6, status="BAD")]
    response = await gateway.post("/api/audit-logs/bulk", json=bulk, headers=AUTH)
    assert response.status == 207, await response.text()
    body = await response.json()
    assert [s["index"] for s in body["succeeded"]] == [0, 1, 2, 3] and len(body["failed"]) == 1
    assert "receipt" not in body["failed"][0]
    receipts += [s["receipt"] for s in body["succeeded"]]

    for receipt in receipts:
        verify_receipt(receipt, [GATEWAY_KEY])
        assert receipt["source"] == TOKEN_NAME and receipt["topic"] == stack.topic
    # One event produced: a v1 receipt; a bulk request's: v2, one signature for its tree (docs/receipts.md).
    assert not receipts[0]["signature"].startswith("v2:")
    assert all(r["signature"].startswith("v2:") for r in receipts[1:])
    assert len({BatchSignature.parse(r["signature"]).signature for r in receipts[1:]}) == 1
    for receipt in receipts[:2]:
        with pytest.raises(ReceiptError):
            verify_receipt({**receipt, "offset": receipt["offset"] + 1}, [GATEWAY_KEY])
    with pytest.raises(ReceiptError):  # a v2 signature is bound to its own receipt
        verify_receipt({**receipts[1], "signature": receipts[2]["signature"]}, [GATEWAY_KEY])

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 5, 90, lambda: f"5 stored\n{stack.logs()}")
    stored = _stored(stack)
    for receipt in receipts:
        row = stored[receipt["id"]]
        assert (row.source, row.received_at, row.kafka_topic, row.kafka_partition, row.kafka_offset) == (
            receipt["source"], receipt["receivedAt"], receipt["topic"], receipt["partition"], receipt["offset"])
        assert row.attestation == receipt["attestation"] and row.unattested_claim is False

    # A retry of a stored event is answered 200 with the stored record's receipt.
    response = await gateway.post("/api/audit-logs", json=single, headers=AUTH)
    assert response.status == 200, await response.text()
    again = (await response.json())["receipt"]
    verify_receipt(again, [GATEWAY_KEY])
    assert again == receipts[0]  # Ed25519 is deterministic: the very same receipt


def _forged_envelopes() -> dict[str, tuple[dict[str, Any], bytes]]:
    """Direct Kafka writes claiming a source/receivedAt without a valid attestation, and two honest ones."""
    other = ReceiptSigner(Signer.generate("not-the-gateway"))
    out: dict[str, tuple[dict[str, Any], bytes]] = {}

    def add(name: str, value: Any) -> None:
        event = make_event(f"svc-{name}", 1, id=uuid7())
        out[name] = (event, value(event))

    add("no_attestation", lambda e: encode_envelope(e, source="payments", received_at=CLAIMED_AT))
    add("source_only", lambda e: encode_envelope(e, source="payments", received_at=None))
    add("wrong_key", lambda e: encode_envelope(
        e, source="payments", received_at=CLAIMED_AT,
        attestation=other.attest(e["id"], "00" * 32, "payments", CLAIMED_AT)))  # fmt: skip
    add("altered_after_signing",
        lambda e: attested_envelope(e, "direct", CLAIMED_AT).replace(b'"direct"', b'"payments"'))  # fmt: skip
    # v2: another request's signature over a path that does not lead to its root; a true path of
    # another event of the same request, under this event's statement.
    stolen = request_attestations([make_event("svc-other", i, id=uuid7()) for i in range(3)], "payments", CLAIMED_AT)
    add("another_requests_signature", lambda e: encode_envelope(
        e, source="payments", received_at=CLAIMED_AT, attestation=stolen[0]))  # fmt: skip
    add("another_events_path", lambda e: encode_envelope(
        e, source="direct", received_at=CLAIMED_AT, attestation=_request_of_two(e)[1]))  # fmt: skip
    add("honest_direct", lambda e: encode_envelope(e, source=None, received_at=None))
    add("attested", lambda e: attested_envelope(e, "direct", CLAIMED_AT))
    add("attested_v1", lambda e: attested_envelope(e, "direct", CLAIMED_AT, v1=True))
    add("attested_in_a_request", lambda e: encode_envelope(
        e, source="direct", received_at=CLAIMED_AT, attestation=_request_of_two(e)[0]))  # fmt: skip
    return out


def _request_of_two(event: dict[str, Any]) -> list[str]:
    """The v2 attestations of a request holding `event` (leaf 0) and another event (leaf 1)."""
    return request_attestations([event, make_event("svc-other", 2, id=uuid7())], "direct", CLAIMED_AT)


FORGED = ("no_attestation", "source_only", "wrong_key", "altered_after_signing", "another_requests_signature",
          "another_events_path")  # fmt: skip
ATTESTED = ("attested", "attested_v1", "attested_in_a_request")


def test_direct_kafka_claims_without_a_valid_attestation_are_stored_unattested(stack: Stack) -> None:
    envelopes = _forged_envelopes()
    for event, value in envelopes.values():
        stack.produce_raw(value, message_key(event))
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == len(envelopes), 90, lambda: f"all stored\n{stack.logs()}")
    stored = _stored(stack)
    for name in FORGED:
        row = stored[envelopes[name][0]["id"]]
        assert (row.source, row.attestation, row.unattested_claim) == (None, None, True), name
        assert row.received_at != CLAIMED_AT, name  # the Kafka timestamp, not the claim
    honest = stored[envelopes["honest_direct"][0]["id"]]
    assert (honest.source, honest.attestation, honest.unattested_claim) == (None, None, False)
    for name in ATTESTED:
        attested = stored[envelopes[name][0]["id"]]
        assert (attested.source, attested.received_at, attested.unattested_claim) == ("direct", CLAIMED_AT, False)
        assert attested.attestation is not None, name
    assert stack.query("SELECT count(*) FROM dead_letters")[0][0] == 0


def test_with_the_dead_letter_policy_unattested_claims_are_refused(
    kafka_bootstrap: str, pg_url: str, unique_name: str, tmp_path: Path
) -> None:
    env = {"ARGUS_UNATTESTED_CLAIMS": "dead-letter"}
    with running_stack(kafka_bootstrap, pg_url, unique_name, tmp_path, extra_env=env) as stack:
        envelopes = _forged_envelopes()
        for event, value in envelopes.values():
            stack.produce_raw(value, message_key(event))
        stack.start_processor()
        wait_for(lambda: stack.stored_count() == 1 + len(ATTESTED), 90, lambda: f"all honest stored\n{stack.logs()}")
        wait_for(lambda: stack.query("SELECT count(*) FROM dead_letters")[0][0] == len(FORGED), 60,
                 lambda: f"{len(FORGED)} dead letters\n{stack.logs()}")  # fmt: skip
        reasons = {row.reason for row in stack.query("SELECT reason FROM dead_letters")}
        assert reasons == {"attestation: the envelope claims a source or receivedAt without a valid gateway "
                           "attestation"}  # fmt: skip
        assert set(_stored(stack)) == {envelopes[n][0]["id"] for n in ("honest_direct", *ATTESTED)}


def _verify_receipts(stack: Stack, url: str, receipts: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    code = argus_main(["verify", "--database-url", stack.db_url, "--checkpoint", f"{url}/api/checkpoints",
                       "--token", TOKEN, "--log-key", LOG_VERIFIER_KEY, "--receipts", str(receipts),
                       "--receipt-key", RECEIPT_VERIFIER_KEY, "--json"])  # fmt: skip
    return code, orjson.loads(capsys.readouterr().out)


def test_the_sdk_keeps_receipts_that_prove_every_event_is_in_the_log(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """AuditClient → `argus gateway` → Kafka → processor → PostgreSQL; then the client's receipts
    prove each event included, and one deleted from the database is reported with its receipt."""
    gateway = GatewayProcess(stack).start()
    try:
        stack.start_processor()
        receipts_file = tmp_path / "receipts.ndjson"
        client = AuditClient(gateway.url, api_key=TOKEN, batch_size=10, batch_interval=0.05, retry=PATIENT_RETRY,
                             receipts_file=receipts_file)  # fmt: skip
        for i in range(40):
            assert client.log_audit_event(make_event(f"svc-sdk-{i % 4}", i))
        client.close(60)
        assert client.stats()["sent"] == 40, client.stats()
        assert len(client.receipts) == 40 and client.receipt_keeper.verify([RECEIPT_VERIFIER_KEY]) == []
        on_disk = [orjson.loads(line) for line in receipts_file.read_text().splitlines()]
        assert sorted(r["id"] for r in on_disk) == sorted(r["id"] for r in client.receipts)
        wait_for(lambda: stack.stored_count() == 40, 90, lambda: f"40 stored\n{stack.logs()}")
        wait_until_consumed(stack)

        code, report = _verify_receipts(stack, gateway.url, receipts_file, capsys)
        assert code == 0, report
        assert report["receipts"] == {"receipts": 40, "proven": 40, "problems": []}

        dropped = on_disk[17]
        engine = make_engine(stack.db_url)
        try:
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM audit_records WHERE id = :id"), {"id": dropped["id"]})
        finally:
            engine.dispose()
        code, report = _verify_receipts(stack, gateway.url, receipts_file, capsys)
        assert code == 1, report
        missing = [p for p in report["receipts"]["problems"] if p["kind"] == "missing"]
        assert [(p["id"], p["receipt"]) for p in missing] == [(dropped["id"], dropped)]
    finally:
        gateway.stop()


async def test_a_retry_produced_twice_is_proven_by_both_its_receipts(
    stack: Stack, gateway: TestClient[Any, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the processor stores an event, a retry of it is produced again and gets its own receipt
    (another offset and receivedAt); the processor keeps the first copy. Both receipts still prove the
    event is in the log: the stored copy's own attestation vouches for where it is."""
    event = make_event("svc-retry", 1, id=uuid7())
    answers = [await gateway.post("/api/audit-logs", json=event, headers=AUTH) for _ in range(2)]
    assert [a.status for a in answers] == [201, 201]
    receipts = [(await a.json())["receipt"] for a in answers]
    assert receipts[0]["offset"] != receipts[1]["offset"]
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 1, 90, lambda: f"1 stored\n{stack.logs()}")
    wait_until_consumed(stack)
    anchors = tmp_path / "anchors.txt"
    anchors.write_text("".join(row.note for row in stack.query("SELECT note FROM checkpoints")))
    receipts_file = tmp_path / "receipts.ndjson"
    receipts_file.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in receipts))
    capsys.readouterr()
    code = argus_main(["verify", "--database-url", stack.db_url, "--checkpoint", str(anchors), "--log-key",
                       LOG_VERIFIER_KEY, "--receipts", str(receipts_file), "--receipt-key", RECEIPT_VERIFIER_KEY,
                       "--json"])  # fmt: skip
    report = orjson.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["receipts"] == {"receipts": 2, "proven": 2, "problems": []}
