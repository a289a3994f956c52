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

from argus.db.admission import validate_storable_event
from argus_spec.enums import EnumConfig
from argus_spec.jcs import canonicalize
from argus_spec.merkle import inclusion_proofs, leaf_hash
from argus_spec.note import Signer
from argus_spec.receipt import (
    CONTENT_FIELDS,
    RECEIPT_BATCH_CONTEXT,
    BatchSignature,
    attestation_bytes,
    batch_bytes,
    content_digest,
    make_receipt,
    receipt_bytes,
    sign,
    sign_attestations,
    sign_receipts,
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


#: v2: one request of three events (a tree of size 3: paths of two and one hashes) and one of a
#: single event (size 1: an empty path, the root is the leaf).
REQUESTS: list[tuple[list[dict[str, Any]], str, str, list[int]]] = [
    ([EVENTS[0], EVENTS[1], {**EVENTS[0], "id": "0192f1d2-7a3b-7c4d-8e5f-0123456789ac", "targetId": "invoice-43"}],
     "billing", "2026-03-04T05:06:10.000002Z", [20, 21, 22]),
    ([{**EVENTS[1], "id": "0192f1d2-7a3b-7c4d-8e5f-0123456789ad"}], "ledger", "2026-03-04T05:06:11.000000Z", [30]),
]  # fmt: skip


def _hash(raw: dict[str, Any]) -> tuple[str, str | None]:
    event, metadata_text = validate_storable_event(copy.deepcopy(raw), EnumConfig(), assign_id=False)
    return content_digest(event, metadata_text).hex(), metadata_text


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


def batch(events: list[dict[str, Any]], source: str, received_at: str, offsets: list[int]) -> dict[str, Any]:
    """A request's v2 attestations and v2 receipts: for each, the leaves, the tree, the signed bytes
    and every event's audit path; then the receipt per event."""
    statements = [(raw["id"], _hash(raw)[0], source, received_at) for raw in events]
    leaves = [leaf_hash(attestation_bytes(*statement)) for statement in statements]
    root, _ = inclusion_proofs(leaves)
    attestations = sign_attestations(SIGNER, statements)
    receipts = sign_receipts(SIGNER, [
        {"id": record_id, "contentHash": content_hash, "source": source, "receivedAt": received_at,
         "topic": "argus.events", "partition": 1, "offset": offset, "attestation": attestation}
        for (record_id, content_hash, _, _), offset, attestation in zip(statements, offsets, attestations, strict=True)
    ])  # fmt: skip
    receipt_leaves = [leaf_hash(receipt_bytes(receipt)) for receipt in receipts]
    receipt_root, _ = inclusion_proofs(receipt_leaves)
    return {
        "events": events,
        "leafHashes": [leaf.hex() for leaf in leaves],
        "treeSize": len(events),
        "rootHash": root.hex(),
        "batchBytes": batch_bytes(len(events), root).decode(),
        "paths": [[h.hex() for h in BatchSignature.parse(a).path] for a in attestations],
        "receiptLeafHashes": [leaf.hex() for leaf in receipt_leaves],
        "receiptRootHash": receipt_root.hex(),
        "receiptBatchBytes": batch_bytes(len(events), receipt_root, RECEIPT_BATCH_CONTEXT).decode(),
        "receiptPaths": [[h.hex() for h in BatchSignature.parse(r["signature"]).path] for r in receipts],
        "receipts": receipts,
    }


def forgeries(mine: BatchSignature, theirs: BatchSignature, neighbour: str) -> list[tuple[str, str]]:
    """v2 signature strings for leaf 0 of `mine`'s tree that must be refused: another leaf's
    (`neighbour`), a path altered, another request's signature with this path, a claimed index or
    tree size that is not the signed one."""
    flipped = bytes([mine.path[0][0] ^ 1]) + mine.path[0][1:]
    return [
        ("another leaf's path", neighbour),
        ("path altered", BatchSignature(mine.signature, 0, mine.tree_size, (flipped, *mine.path[1:])).encode()),
        ("another request's signature", BatchSignature(theirs.signature, 0, mine.tree_size, mine.path).encode()),
        ("index", BatchSignature(mine.signature, 1, mine.tree_size, mine.path).encode()),
        ("tree size", BatchSignature(mine.signature, 0, mine.tree_size + 1, mine.path).encode()),
    ]


def _padding_bit_set(text: str) -> str:
    """`text` (ending in one '=') with a padding bit of its last character set: the same bytes,
    written another way, which a strict decoder refuses (one encoding per attestation)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert text.endswith("=") and not text.endswith("==") and alphabet.index(text[-2]) & 3 == 0
    return text[:-2] + alphabet[alphabet.index(text[-2]) | 1] + "="


def invalid_v2(request: dict[str, Any], other: dict[str, Any]) -> list[dict[str, Any]]:
    """Receipts of leaf 0 of `request` that must be refused. v2 attestations: each receipt re-signed
    (v1) so only the attestation is wrong. v2 receipt signatures: the receipt's own fields untouched,
    only its signature string forged."""
    first, second = request["receipts"][0], request["receipts"][1]
    mine, theirs = BatchSignature.parse(first["attestation"]), BatchSignature.parse(other["receipts"][0]["attestation"])
    out = []
    for name, attestation in [*forgeries(mine, theirs, second["attestation"]),
                              ("not canonical base64", _padding_bit_set(first["attestation"]))]:  # fmt: skip
        forged = {**first, "attestation": attestation}
        forged["signature"] = sign(SIGNER, receipt_bytes(forged))
        out.append({"changed": f"attestation ({name})", "error": "attestation", "receipt": forged})
    mine, theirs = BatchSignature.parse(first["signature"]), BatchSignature.parse(other["receipts"][0]["signature"])
    for name, signature in [*forgeries(mine, theirs, second["signature"]),
                            ("not canonical base64", _padding_bit_set(first["signature"]))]:  # fmt: skip
        forged = {**first, "signature": signature}
        out.append({"changed": f"signature ({name})", "error": "signature", "receipt": forged})
    return out


def invalid(good: dict[str, Any]) -> list[dict[str, Any]]:
    """Receipts that must be refused: `changed` names the field altered, `error` what the refusal names
    (a signed field altered: the receipt's signature; a malformed field: that field)."""
    out = []
    for field, value, error in (("offset", good["offset"] + 1, "signature"), ("source", "someone-else", "signature"),
                                ("contentHash", "00" * 32, "signature"), ("partition", -1, "partition"),
                                ("v", 2, "v"), ("offset", 2**53, "offset"), ("partition", 2**64, "partition"),
                                ("attestation", 2**53, "attestation"),
                                ("attestation", 1.5, "attestation")):  # fmt: skip
        out.append({"changed": field, "error": error, "receipt": {**good, field: value}})
    forged = dict(good)
    claim = attestation_bytes(good["id"], good["contentHash"], "forged", good["receivedAt"])
    forged["attestation"] = sign(SIGNER, claim)
    forged["signature"] = sign(SIGNER, receipt_bytes(forged))
    out.append({"changed": "attestation", "error": "attestation", "receipt": forged})
    return out


def vectors() -> dict[str, Any]:
    cases = [case(raw, *statement) for raw, statement in zip(EVENTS, STATEMENTS, strict=True)]
    requests = [batch(*request) for request in REQUESTS]
    return {
        "comment": "Argus signed ingest receipts (docs/receipts.md). TEST-ONLY key.",
        "verifierKey": SIGNER.verifier.encode(),
        "valid": cases,
        "requests": requests,
        "invalid": invalid(cases[0]["receipt"]) + invalid_v2(requests[0], requests[1]),
    }


def render() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    (HERE / "vectors.json").write_text(render(), encoding="utf-8")
