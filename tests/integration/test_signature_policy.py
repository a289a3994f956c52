"""The key registry's mustSign policy end to end (docs/signatures.md, "Signature policy"): the gateway
refuses unsigned events of a must-sign source or actor, the processor dead-letters such direct Kafka
writes, and `argus verify` and the API's verify endpoint catch a signature stripped from a stored
record even after the chain was re-hashed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from argus.db.engine import make_engine
from argus_client.signing import PemSigner, sign_event
from argus_commands.main import main as argus_main
from argus_spec.envelope import encode_envelope, message_key
from argus_spec.hashchain import record_hash
from argus_spec.uuid7 import uuid7
from tests.integration.harness import TOKEN, Stack, make_event, wait_for

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "signatures"
SIGNER = PemSigner.from_pem((VECTORS / "test-ed25519-2026.private.pem").read_bytes(), "ed-2026")
PAYMENTS_TOKEN = "test-token-payments-service"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAYMENTS = {"Authorization": f"Bearer {PAYMENTS_TOKEN}"}


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(
        f"keys:\n  - id: ed-2026\n    pemFile: {VECTORS / 'test-ed25519-2026.pem'}\n"
        "mustSign:\n  - source: payments\n  - actorId: 'svc-pay-*'\n"
    )
    return path


@pytest.fixture
def stack_env(keys_file: Path) -> dict[str, str]:
    """The conftest's `stack` and `gateway`, with this test's key registry and a payments token."""
    return {"ARGUS_KEYS_CONFIG": str(keys_file), "ARGUS_AUTH_TOKENS": f"payments={PAYMENTS_TOKEN}"}


def _verify(stack: Stack, keys: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = argus_main(["verify", "--database-url", stack.db_url, "--keys", str(keys), "--json", *extra])
    return code, orjson.loads(capsys.readouterr().out)


def _strip_and_rehash(stack: Stack, actor: str, seq: int) -> None:
    """The insider: remove the signature of record `seq` and re-hash the actor's chain from there on,
    so the hash chain alone verifies again."""
    engine = make_engine(stack.db_url)
    try:
        with engine.begin() as connection:
            rows = {r["seq"]: r for r in stack.records() if r["actorId"] == actor}
            previous = None
            for s in sorted(x for x in rows if x >= seq):
                record = dict(rows[s])
                if previous is None:
                    record.update(signature=None, signatureAlgorithm=None, publicKeyId=None, signatureFormat=None)
                else:
                    record["previousHash"] = previous
                record["currentHash"] = record_hash(record)
                connection.execute(text("UPDATE audit_records SET signature = :sig, signature_algorithm = :alg, "
                                        "public_key_id = :kid, signature_format = :fmt, previous_hash = :p, "
                                        "current_hash = :c WHERE id = :id"),
                                   {"sig": record["signature"], "alg": record["signatureAlgorithm"],
                                    "kid": record["publicKeyId"], "fmt": record["signatureFormat"],
                                    "p": record["previousHash"], "c": record["currentHash"],
                                    "id": record["id"]})  # fmt: skip
                previous = record["currentHash"]
    finally:
        engine.dispose()


async def test_policy_is_enforced_at_ingest_and_a_stripped_signature_is_found_by_verify(
    stack: Stack, gateway: TestClient[Any, Any], keys_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused_source = await gateway.post("/api/audit-logs", json=make_event("billing", 1), headers=PAYMENTS)
    assert refused_source.status == 400
    body = await refused_source.json()
    assert body["field"] == "signature" and "source 'payments'" in body["message"], body
    refused_actor = await gateway.post("/api/audit-logs", json=make_event("svc-pay-eu", 1), headers=AUTH)
    assert refused_actor.status == 400 and (await refused_actor.json())["field"] == "signature"
    signed = [sign_event(make_event("svc-pay-eu", i, id=uuid7()), SIGNER, format="v2") for i in range(3)]
    for event in signed:
        assert (await gateway.post("/api/audit-logs", json=event, headers=AUTH)).status == 201
    free = make_event("billing", 2, id=uuid7())
    assert (await gateway.post("/api/audit-logs", json=free, headers=AUTH)).status == 201
    # straight to Kafka: an unsigned must-sign actor, and unsigned events of the payments source, one
    # attested by the gateway's receipt key (as the gateway writes them), one merely claiming it
    stack.produce_envelopes([make_event("svc-pay-us", 1, id=uuid7())])
    stack.produce_envelopes([make_event("billing", 3, id=uuid7())], source="payments")
    claimed = make_event("billing", 4, id=uuid7())
    stack.produce_raw(encode_envelope(claimed, source="payments", received_at=None), message_key(claimed))
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 5, 90, lambda: f"5 stored\n{stack.logs()}")
    wait_for(lambda: len(stack.query("SELECT 1 FROM dead_letters")) == 2, 30, "2 dead letters")
    reasons = sorted(row.reason for row in stack.query("SELECT reason FROM dead_letters"))
    assert reasons == ["signature: required by policy (actorId 'svc-pay-*')",
                       "signature: required by policy (source 'payments')"]  # fmt: skip
    # an unattested claim is not believed (docs/receipts.md): stored with no source, so no source rule applies
    [row] = stack.query("SELECT source, unattested_claim FROM audit_records WHERE id = :id", id=claimed["id"])
    assert (row.source, row.unattested_claim) == (None, True)

    code, report = _verify(stack, keys_file, capsys)
    assert (code, report["breaks"], report["signaturesChecked"]) == (0, [], True), report

    _strip_and_rehash(stack, "svc-pay-eu", 2)
    code, report = _verify(stack, keys_file, capsys, "--no-signatures")
    assert (code, report["breaks"]) == (0, [])  # the chain alone verifies after the re-hash ...
    assert any("signatures not checked: turned off" in note for note in report["notes"])
    code, report = _verify(stack, keys_file, capsys)  # ... the policy does not
    assert code == 1
    assert [(b["actorId"], b["seq"], b["kind"]) for b in report["breaks"]] == [("svc-pay-eu", 2, "unsigned")]
    api = await gateway.get("/api/actors/svc-pay-eu/verify", headers=AUTH)
    answer = await api.json()
    assert api.status == 200 and answer["signaturesChecked"] is True
    assert [(b["seq"], b["kind"]) for b in answer["breaks"]] == [(2, "unsigned")]
