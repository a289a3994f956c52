"""Verify what the gateway's log endpoints return, offline, against the log's public key.

`GET /api/audit-logs/{id}/proof` and `GET /api/checkpoints/consistency` answers (or the
`LogClient` methods that fetch them) are checked here with the pure Merkle and note code: a
caller needs to trust only the verifier key, never the server (docs/transparency.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argus_spec.hashchain import record_hash
from argus_spec.merkle import ProofError, verify_consistency, verify_inclusion
from argus_spec.note import Verifier
from argus_spec.tlog import Checkpoint, open_checkpoint, parse_origin, record_leaf


def _checkpoint(data: Mapping[str, Any], verifiers: list[Verifier], topic: str, partition: int) -> Checkpoint:
    checkpoint = open_checkpoint(data["note"], verifiers)
    _, cp_topic, cp_partition = parse_origin(checkpoint.origin)
    if (cp_topic, cp_partition) != (topic, partition):
        raise ProofError(f"checkpoint is for {checkpoint.origin}, not {topic}/{partition}")
    return checkpoint


def verify_record_proof(
    record: Mapping[str, Any] | None, proof: Mapping[str, Any], verifiers: list[Verifier]
) -> Checkpoint:
    """Check an inclusion proof answer; returns the signed checkpoint the record is included in.

    With `record` (the stored record as the API or an export returns it, metadata as text or
    object), its hash is recomputed, so the proof covers its content, not just its id.
    """
    topic, partition = proof["topic"], proof["partition"]
    checkpoint = _checkpoint(proof["checkpoint"], verifiers, topic, partition)
    if checkpoint.size != proof["treeSize"]:
        raise ProofError(f"proof is for size {proof['treeSize']}, its checkpoint for {checkpoint.size}")
    current = proof["currentHash"]
    if record is not None:
        current = record_hash(_hashable(record))
        if current != proof["currentHash"]:
            raise ProofError("the record does not hash to the proof's currentHash")
    leaf = record_leaf(topic, partition, proof["kafkaOffset"], proof["commitSeq"], current)
    path = [bytes.fromhex(h) for h in proof["inclusionPath"]]
    verify_inclusion(proof["leafIndex"], checkpoint.size, leaf, path, checkpoint.root)
    return checkpoint


def verify_consistency_answer(
    proof: Mapping[str, Any], verifiers: list[Verifier], trusted: Checkpoint | None = None
) -> Checkpoint:
    """Check a consistency proof answer; returns the newer signed checkpoint. With `trusted` (a
    checkpoint you kept), the older side must be exactly it."""
    topic, partition = proof["topic"], proof["partition"]
    newer = _checkpoint(proof["secondCheckpoint"], verifiers, topic, partition)
    first = proof["first"]
    older_root = b""
    if first:
        older = _checkpoint(proof["firstCheckpoint"], verifiers, topic, partition)
        if older.size != first:
            raise ProofError(f"first checkpoint has size {older.size}, not {first}")
        older_root = older.root
    if trusted is not None and (trusted.size != first or (first and trusted.root != older_root)):
        raise ProofError("the proof does not start from the trusted checkpoint")
    verify_consistency(first, newer.size, older_root, newer.root, [bytes.fromhex(h) for h in proof["proof"]])
    return newer


def _hashable(record: Mapping[str, Any]) -> dict[str, Any]:
    """The API returns metadata parsed; the hash covers its stored canonical text."""
    from argus_spec.hashchain import canonical_metadata

    out = dict(record)
    if out.get("metadata") is not None and not isinstance(out["metadata"], str):
        out["metadata"] = canonical_metadata(out["metadata"])
    return out
