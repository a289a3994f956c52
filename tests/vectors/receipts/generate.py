"""Writes vectors.json: Argus signed-receipt test vectors (docs/receipts.md, "Test vectors").

    .venv/bin/python tests/vectors/receipts/generate.py

Deterministic (Ed25519 signatures are), so tests/unit/test_receipts.py regenerates it and fails if
the committed file differs. The key is TEST-ONLY (test-receipt.key); the integration stacks use it
as their gateway's receipt key.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from argus_client.enums import EnumConfig
from argus_client.hashchain import validate_storable_event
from argus_client.jcs import canonicalize
from argus_client.note import Signer
from argus_client.receipt import (
    CONTENT_FIELDS,
    attestation_bytes,
    content_digest,
    make_receipt,
    receipt_bytes,
    sign,
)

HERE = Path(__file__).resolve().parent
SIGNER = Signer.parse((HERE / "test-receipt.key").read_text())

EVENTS: list[dict[str, Any]] = [
    {"id": "0192f1d2-7a3b-7c4d-8e5f-0123456789ab", "timestamp": "2026-03-04T05:06:07.123456Z", "status": "SUCCESS",
     "action": "READ", "actorType": "SERVICE", "actorId": "svc-billing", "targetType": "RESOURCE",
     "targetId": "invoice-42", "eventType": "DATA_FETCH", "metadata": {"b": 2, "a": [1.5, "x"], "big": 2**60}},
    {"id": "8b1c2d3e-4f50-8a6b-9c7d-0e1f2a3b4c5d", "timestamp": "2026-03-04T05:06:08Z", "status": "FAILURE",
     "action": "DELETE", "actorType": "MEMBER", "actorId": "zoë \u2014 \"quoted\"\n", "targetType": "RESOURCE",
     "message": "aGVsbG8=", "traceId": "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"},
]  # fmt: skip
STATEMENTS = [("billing", "2026-03-04T05:06:07.200001Z", "argus.events", 3, 17),
              (None, "2026-03-04T05:06:09.000000Z", "argus.events", 0, 0)]  # fmt: skip


def case(raw: dict[str, Any], source: str | None, received_at: str, topic: str, partition: int,
         offset: int) -> dict[str, Any]:  # fmt: skip
    event, metadata_text = validate_storable_event(copy.deepcopy(raw), EnumConfig(), assign_id=False)
    content_hash = content_digest(event, metadata_text).hex()
    signed = attestation_bytes(event["id"], content_hash, source, received_at)
    attestation = sign(SIGNER, signed)
    receipt = make_receipt(SIGNER, record_id=event["id"], content_hash=content_hash, source=source,
                           received_at=received_at, topic=topic, partition=partition, offset=offset,
                           attestation=attestation)  # fmt: skip
    return {
        "event": raw,
        "metadataText": metadata_text,
        "contentBytes": canonicalize([metadata_text if f == "metadata" else event[f] for f in CONTENT_FIELDS]).decode(),
        "contentHash": content_hash,
        "attestationBytes": signed.decode(),
        "receiptBytes": receipt_bytes(receipt).decode(),
        "receipt": receipt,
    }


def invalid(good: dict[str, Any]) -> list[dict[str, Any]]:
    """Receipts that must be refused: `changed` names the field altered, `error` what the refusal names
    (a signed field altered: the receipt's signature; a malformed field: that field)."""
    out = []
    for field, value, error in (("offset", good["offset"] + 1, "signature"), ("source", "someone-else", "signature"),
                                ("contentHash", "00" * 32, "signature"), ("partition", -1, "partition"),
                                ("v", 2, "v")):  # fmt: skip
        out.append({"changed": field, "error": error, "receipt": {**good, field: value}})
    forged = dict(good)
    claim = attestation_bytes(good["id"], good["contentHash"], "forged", good["receivedAt"])
    forged["attestation"] = sign(SIGNER, claim)
    forged["signature"] = sign(SIGNER, receipt_bytes(forged))
    out.append({"changed": "attestation", "error": "attestation", "receipt": forged})
    return out


def vectors() -> dict[str, Any]:
    cases = [case(raw, *statement) for raw, statement in zip(EVENTS, STATEMENTS, strict=True)]
    return {
        "comment": "Argus signed ingest receipts (docs/receipts.md). TEST-ONLY key.",
        "verifierKey": SIGNER.verifier.encode(),
        "valid": cases,
        "invalid": invalid(cases[0]["receipt"]),
    }


def render() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    (HERE / "vectors.json").write_text(render(), encoding="utf-8")
