"""One id, one event: what makes two events the same, and ids for events sent without one.

An `id` names exactly one event. A second event under a known id is either a retry (the same
content: acknowledged again, stored once) or a conflict (different content: refused with 409 by
the gateway, dead-lettered by the processor if it slipped past). "The same content" is
`content_digest` (argus_spec/receipt.py, the hash a receipt carries): every field the client
sent except the id, with metadata as its canonical (RFC 8785) text, so key order or number
spelling never makes a retry look different.

Events sent without an id get one derived from what the gateway knows, so a retried request
maps to the same ids (docs/api.md, "Idempotent ingest"):
- `idempotency_id`: from the caller's token, its `Idempotency-Key` header and the item's index;
- `content_id`: from the caller's token and the event's content digest.
Both are UUIDv8 (RFC 9562: custom, here the first 122 bits of a SHA-256).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Connection, select

from argus.db.schema import audit_records, record_columns
from argus_spec.receipt import CONTENT_FIELDS, content_digest

__all__ = ["content_digest", "content_id", "idempotency_id", "stored_digests"]
_CONTENT_COLUMNS = record_columns(CONTENT_FIELDS)


def _uuid8(*parts: str | bytes) -> str:
    hasher = hashlib.sha256(b"argus-id")
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(4, "big") + data)  # length-prefixed: parts never run together
    value = int.from_bytes(hasher.digest()[:16], "big")
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0b11 << 62)) | (0b10 << 62)  # RFC 9562 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def content_id(source: str | None, digest: bytes) -> str:
    """The id of an id-less event: equal content from the same caller gets the same id."""
    return _uuid8("content", source or "", digest)


def idempotency_id(source: str | None, key: str, index: int) -> str:
    """The id of item `index` of a request sent with `Idempotency-Key: key`."""
    return _uuid8("idempotency-key", source or "", key, str(index))


def stored_digests(connection: Connection, ids: Sequence[str]) -> dict[str, bytes]:
    """Content digest of each id that is stored (a primary-key lookup; absent ids are left out)."""
    found: dict[str, bytes] = {}
    for start in range(0, len(ids), 5000):
        chunk = list(ids[start : start + 5000])
        rows = connection.execute(select(audit_records.c.id, *_CONTENT_COLUMNS).where(audit_records.c.id.in_(chunk)))
        for row in rows:
            record = dict(zip(CONTENT_FIELDS, row[1:], strict=True))
            found[row[0]] = content_digest(record, record["metadata"])
    return found
