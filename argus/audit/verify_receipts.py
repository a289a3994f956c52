"""`argus verify --receipts FILE`: prove that every event the gateway gave a receipt for is in the log.

A client keeps the receipts the gateway signed (the SDK's `receipts_file`, docs/client.md); this
checks each one: its signature (the gateway's receipt key), that the store holds a record with its
id and content, where the receipt says, and an RFC 9162 inclusion proof of that record's leaf,
computed from the stored tiles, against the trusted checkpoint of its partition (`--checkpoint`,
kept outside the database). An event dropped after its receipt was issued is reported with the
receipt itself: the client's evidence (docs/receipts.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from argus.audit.export import COLUMNS
from argus.db.schema import audit_records
from argus.tlog.store import leaf_index, tile_reader
from argus_spec import exactjson
from argus_spec.event import EVENT_FIELDS
from argus_spec.hashchain import RECORD_FIELDS, row_hash
from argus_spec.merkle import ProofError, inclusion_proof, verify_inclusion
from argus_spec.note import Verifier
from argus_spec.receipt import ReceiptError, check_attestation, content_digest, verify_receipt
from argus_spec.tiles import tile_node_source
from argus_spec.tlog import Checkpoint, parse_origin, record_leaf

BAD_RECEIPT, MISSING, ALTERED, UNPROVEN, NOT_INCLUDED = "bad_receipt", "missing", "altered", "unproven", "not_included"
_METADATA, _SOURCE, _RECEIVED = (RECORD_FIELDS.index(f) for f in ("metadata", "source", "receivedAt"))


def read_receipts(path: str) -> list[Any]:
    """Receipts from a file: one JSON object per line (what the SDK appends), or a JSON array."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        receipts: list[Any] = exactjson.loads(text)
        return receipts
    return [exactjson.loads(line) for line in text.splitlines() if line.strip()]


def _problem(kind: str, receipt: Any, detail: str) -> dict[str, Any]:
    record_id = receipt.get("id") if isinstance(receipt, dict) else None
    return {"kind": kind, "id": record_id, "detail": detail, "receipt": receipt}


def _anchors(checkpoints: Sequence[Checkpoint]) -> dict[tuple[str, int], Checkpoint]:
    """The largest trusted checkpoint of each (topic, partition)."""
    out: dict[tuple[str, int], Checkpoint] = {}
    for checkpoint in checkpoints:
        _, topic, partition = parse_origin(checkpoint.origin)
        if (topic, partition) not in out or checkpoint.size > out[(topic, partition)].size:
            out[(topic, partition)] = checkpoint
    return out


class ReceiptCheck:
    """Checks receipts one by one against one database connection."""

    def __init__(self, connection: Connection, keys: list[Verifier], checkpoints: Sequence[Checkpoint]) -> None:
        self.connection, self.keys, self.anchors = connection, keys, _anchors(checkpoints)

    def problem(self, receipt: Any) -> dict[str, Any] | None:
        """None when the receipt is proven included; else what is wrong, with the receipt."""
        try:
            verify_receipt(receipt, self.keys)
        except ReceiptError as exc:
            return _problem(BAD_RECEIPT, receipt, str(exc))
        t = audit_records.c
        row = self.connection.execute(
            select(t.kafka_topic, t.kafka_partition, t.kafka_offset, t.commit_seq, t.attestation, *COLUMNS)
            .where(t.id == receipt["id"])
        ).first()  # fmt: skip
        where = f"{receipt['topic']}/{receipt['partition']}@{receipt['offset']}"
        if row is None:
            detail = f"accepted at {where} (receivedAt {receipt['receivedAt']}); the store has no record with its id"
            return _problem(MISSING, receipt, detail)
        topic, partition, offset, commit_seq, attestation = row[:5]
        values = tuple(row[5:])
        event = dict(zip(EVENT_FIELDS, values, strict=False))
        if content_digest(event, values[_METADATA]).hex() != receipt["contentHash"]:
            return _problem(ALTERED, receipt, "the stored record's content is not what the gateway accepted")
        moved = (topic, partition, offset, values[_SOURCE], values[_RECEIVED]) != tuple(
            receipt[k] for k in ("topic", "partition", "offset", "source", "receivedAt"))  # fmt: skip
        # Moved but attested: a retry the gateway produced twice; the processor kept the first copy.
        if moved and not self._attested(receipt["id"], receipt["contentHash"], values, attestation):
            return _problem(ALTERED, receipt, f"stored at {topic}/{partition}@{offset} with source "
                                              f"{values[_SOURCE]!r} and receivedAt {values[_RECEIVED]!r}, "
                                              "which the gateway did not attest")  # fmt: skip
        return self._included(receipt, topic, partition, offset, commit_seq, values)

    def _attested(self, record_id: str, content_hash: str, values: tuple[Any, ...], attestation: Any) -> bool:
        try:
            check_attestation(self.keys, (record_id, content_hash, values[_SOURCE], values[_RECEIVED]), attestation)
        except ReceiptError:
            return False
        return True

    def _included(self, receipt: Any, topic: str, partition: int, offset: int, commit_seq: int,
                  values: tuple[Any, ...]) -> dict[str, Any] | None:  # fmt: skip
        anchor = self.anchors.get((topic, partition))
        if anchor is None:
            return _problem(UNPROVEN, receipt, f"no trusted checkpoint of {topic}/{partition} was given")
        index = leaf_index(self.connection, topic, partition, commit_seq, offset)
        if index >= anchor.size:
            return _problem(UNPROVEN, receipt, f"leaf {index} is newer than the trusted checkpoint (size "
                                               f"{anchor.size}): verify again with a newer one")  # fmt: skip
        try:
            leaf = record_leaf(topic, partition, offset, commit_seq, row_hash(values))
            source = tile_node_source(tile_reader(self.connection, topic, partition))
            verify_inclusion(index, anchor.size, leaf, inclusion_proof(source, index, anchor.size), anchor.root)
        except (ProofError, ValueError, KeyError, IndexError) as exc:
            return _problem(NOT_INCLUDED, receipt, f"no inclusion proof of leaf {index} in checkpoint "
                                                   f"{anchor.size}: {exc}")  # fmt: skip
        return None


def verify_receipts(engine: Engine, receipts: Iterable[Any], keys: list[Verifier],
                    checkpoints: Sequence[Checkpoint]) -> dict[str, Any]:  # fmt: skip
    """The receipts part of `argus verify`'s report."""
    problems: list[dict[str, Any]] = []
    count = 0
    with engine.connect() as connection:
        checker = ReceiptCheck(connection, keys, checkpoints)
        for receipt in receipts:
            count += 1
            found = checker.problem(receipt)
            if found is not None:
                problems.append(found)
    return {"receipts": count, "proven": count - len(problems), "problems": problems}
