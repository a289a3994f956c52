"""Signed ingest receipts: the gateway's signed word that it accepted an event (docs/receipts.md).

Two statements, both signed with the gateway's Ed25519 receipt key (a C2SP note key):

* the **attestation**, made before the event is produced to Kafka and carried in its envelope:
  `id`, `contentHash`, `source`, `receivedAt`. The processor verifies it before chaining and
  stores it with the record; a `source`/`receivedAt` without one is not believed.
* the **receipt**, made after Kafka confirmed delivery and returned to the caller: the same
  fields plus `topic`, `partition`, `offset` and the attestation itself. It is the caller's
  evidence that the event was accepted; `argus verify --receipts` proves each one is in the log.

Signed bytes are a context line, then the RFC 8785 form of the statement's fields. A signature
is written `base64(4-byte key hash || 64-byte Ed25519 signature)`, as in a signed note, so the
signing key is named by the signature itself. Pure: needs only `cryptography`.

Both signatures have two forms, told apart by the prefix `v2:`. v1 signs one event's statement.
v2 (what the gateway writes) signs once per request: the root of an RFC 9162 Merkle tree whose
leaves are the v1 statement bytes of the request's events; each event carries the signature, its
leaf index, the tree size and its audit path, so checking it costs a few SHA-256 plus one signature
check per distinct root. Attestations and receipts share that code (`batch_sign`, `BatchSignature`,
`check_signed`) and differ only in their context lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from cryptography.exceptions import InvalidSignature

from argus_spec.event import EVENT_FIELDS
from argus_spec.jcs import canonicalize
from argus_spec.merkle import HASH_SIZE, ProofError, inclusion_proofs, leaf_hash, root_from_inclusion
from argus_spec.note import Signer, Verifier

RECEIPT_VERSION = 1
ATTESTATION_CONTEXT = b"argus.attestation.v1\n"
RECEIPT_CONTEXT = b"argus.receipt.v1\n"
BATCH_CONTEXT = b"argus.attestation.v2\n"
RECEIPT_BATCH_CONTEXT = b"argus.receipt.v2\n"
#: A v2 attestation or receipt signature is this prefix (never part of a v1 one: base64 has no ':') and base64.
BATCH_PREFIX = "v2:"
#: Key hash and Ed25519 signature, then the tree size and the leaf index (big-endian uint32).
_SIGNATURE_SIZE, _HEAD_SIZE = 68, 76
#: The largest partition or offset a receipt can hold: RFC 8785 writes integers up to 2**53-1 only.
MAX_POSITION = 2**53 - 1
#: A tree of at most 2^32 - 1 leaves has audit paths of at most 32 hashes.
MAX_PATH = 32
#: The event fields the content hash covers, in this order: every field the client sent but the id.
CONTENT_FIELDS: tuple[str, ...] = tuple(f for f in EVENT_FIELDS if f != "id")
_METADATA = CONTENT_FIELDS.index("metadata")
#: Every field of a receipt; all but `signature` are signed.
RECEIPT_FIELDS = ("v", "id", "contentHash", "source", "receivedAt", "topic", "partition", "offset", "attestation",
                  "signature")  # fmt: skip


class ReceiptError(ValueError):
    """A receipt or attestation is malformed, or its signature does not verify with a trusted key."""


def content_digest(event: Mapping[str, Any], metadata_text: str | None) -> bytes:
    """SHA-256 of the JSON array of the event's CONTENT_FIELDS values (metadata as its canonical
    text). Every value is a string or null, so the array is also its RFC 8785 form. The gateway and
    the processor use it to tell a retry (same content) from a conflict, and receipts carry it."""
    values = list(map(event.get, CONTENT_FIELDS))
    values[_METADATA] = metadata_text
    # orjson writes strings exactly as RFC 8785 does (argus_spec/jcs.py), at a third of the cost.
    return hashlib.sha256(orjson.dumps(values)).digest()


def attestation_bytes(record_id: str, content_hash: str, source: str | None, received_at: str) -> bytes:
    """What the attestation signs: `ATTESTATION_CONTEXT || JCS(statement)`.

    The processor builds one per attested event, so the common case is written out: keys already in
    JCS order and every value a string (source: or null), which orjson writes as RFC 8785 does
    (argus_spec/jcs.py). Anything else, or a string orjson refuses, goes through canonicalize (a unit
    test compares the two with hypothesis)."""
    if (
        type(record_id) is str
        and type(content_hash) is str
        and type(received_at) is str
        and (source is None or type(source) is str)
    ):
        try:
            return ATTESTATION_CONTEXT + orjson.dumps(
                {"contentHash": content_hash, "id": record_id, "receivedAt": received_at, "source": source}
            )
        except orjson.JSONEncodeError:  # a lone surrogate: canonicalize raises its own error
            pass
    statement = {"id": record_id, "contentHash": content_hash, "source": source, "receivedAt": received_at}
    return ATTESTATION_CONTEXT + canonicalize(statement)


def batch_bytes(tree_size: int, root: bytes, context: bytes = BATCH_CONTEXT) -> bytes:
    """What a v2 signature signs: the size and root of a request's tree, `context || JCS({"rootHash":
    hex, "treeSize": n})` (BATCH_CONTEXT for attestations, RECEIPT_BATCH_CONTEXT for receipts), written
    out directly (the keys are in JCS order and neither value needs escaping; a unit test compares it
    with canonicalize)."""
    return b'%s{"rootHash":"%s","treeSize":%d}' % (context, root.hex().encode(), tree_size)


class BatchSignature(NamedTuple):
    """A v2 attestation or receipt signature: `signature` (key hash || Ed25519) over
    batch_bytes(tree_size, root, context), and the audit path from leaf `leaf_index` (the event's
    v1 statement bytes) to that root. (A NamedTuple: the processor parses one per event.)"""

    signature: bytes
    leaf_index: int
    tree_size: int
    path: Sequence[bytes]

    def encode(self) -> str:
        head = self.signature + self.tree_size.to_bytes(4, "big") + self.leaf_index.to_bytes(4, "big")
        return BATCH_PREFIX + base64.b64encode(head + b"".join(self.path)).decode()

    @classmethod
    def parse(cls, text: str) -> BatchSignature:
        """ReceiptError unless `text` is exactly one encoding of a v2 attestation."""
        if not text.startswith(BATCH_PREFIX):
            raise ReceiptError(f"signature: a v2 attestation starts with {BATCH_PREFIX!r}")
        encoded = text[len(BATCH_PREFIX) :]
        try:  # base64.b64decode(validate=True) without its wrapper: the processor parses one per event
            raw = binascii.a2b_base64(encoded, strict_mode=True)
        except ValueError:  # binascii.Error, or a non-ASCII character
            raise ReceiptError("signature: not base64") from None
        hashes, rest = divmod(len(raw) - _HEAD_SIZE, HASH_SIZE)
        if hashes < 0 or rest or hashes > MAX_PATH:
            raise ReceiptError("signature: a v2 signature is a key hash, a signature, a tree size, a leaf index "
                               f"and at most {MAX_PATH} hashes")  # fmt: skip
        if binascii.b2a_base64(raw, newline=False) != encoded.encode("ascii"):
            raise ReceiptError("signature: not in canonical base64")
        path = [raw[i : i + HASH_SIZE] for i in range(_HEAD_SIZE, len(raw), HASH_SIZE)]
        size, index = int.from_bytes(raw[68:72], "big"), int.from_bytes(raw[72:76], "big")
        return cls(raw[:_SIGNATURE_SIZE], index, size, path)

    def signed_bytes(self, statement: bytes, context: bytes = BATCH_CONTEXT) -> bytes:
        """batch_bytes of the root that `statement` (v1 attestation or receipt bytes) and the path lead to."""
        try:
            root = root_from_inclusion(self.leaf_index, self.tree_size, leaf_hash(statement), self.path)
        except ProofError as exc:
            raise ReceiptError(f"signature: {exc}") from None
        return batch_bytes(self.tree_size, root, context)


Statement = tuple[str, str, str | None, str]  # id, contentHash, source, receivedAt
SignRaw = Callable[[bytes], bytes]  # message -> the 68 bytes key hash || Ed25519 signature


def batch_sign(sign_raw: SignRaw, context: bytes, messages: Sequence[bytes]) -> list[str]:
    """One v2 signature string per message (v1 statement bytes), all under one signature of the root
    of their tree. Empty in, empty out (nothing is signed)."""
    if not messages:
        return []
    root, paths = inclusion_proofs([leaf_hash(message) for message in messages])
    signature = sign_raw(batch_bytes(len(messages), root, context))
    return [BatchSignature(signature, i, len(messages), path).encode() for i, path in enumerate(paths)]


def batch_attestations(sign_raw: SignRaw, statements: Sequence[Statement]) -> list[str]:
    """One v2 attestation per statement, all under one signature."""
    return batch_sign(sign_raw, BATCH_CONTEXT, [attestation_bytes(*statement) for statement in statements])


def batch_receipts(sign_raw: SignRaw, statements: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`statements` (every receipt field but `v` and `signature`) as receipts with v2 signatures, one
    signature for all: a request's receipts (docs/receipts.md, "Receipts v1 and v2")."""
    receipts = [{"v": RECEIPT_VERSION, **statement} for statement in statements]
    signatures = batch_sign(sign_raw, RECEIPT_BATCH_CONTEXT, [receipt_bytes(receipt) for receipt in receipts])
    for receipt, signature in zip(receipts, signatures, strict=True):
        receipt["signature"] = signature
    return receipts


def _spec_sign_raw(signer: Signer) -> SignRaw:
    return lambda message: signer.verifier.key_hash + signer.private_key.sign(message)


def sign_attestations(signer: Signer, statements: Sequence[Statement]) -> list[str]:
    """The spec's v2 signer (`cryptography`); the gateway's is argus.trust.receipt_keys.ReceiptSigner."""
    return batch_attestations(_spec_sign_raw(signer), statements)


def sign_receipts(signer: Signer, statements: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The spec's v2 receipt signer (`cryptography`); the gateway's is ReceiptSigner.receipts."""
    return batch_receipts(_spec_sign_raw(signer), statements)


def check_signed(verifiers: Sequence[Verifier], message: bytes, signature: Any, context: bytes) -> Verifier:
    """The trusted key whose v1 signature over `message`, or v2 signature over the root `message`'s
    path leads to (batch bytes under `context`), `signature` is; ReceiptError otherwise."""
    if isinstance(signature, str) and signature.startswith(BATCH_PREFIX):
        batch = BatchSignature.parse(signature)
        message, signature = batch.signed_bytes(message, context), base64.b64encode(batch.signature).decode()
    return check(verifiers, message, signature)


def check_attestation(verifiers: Sequence[Verifier], statement: Statement, attestation: Any) -> Verifier:
    """The trusted key that attested `statement` with `attestation` (v1 or v2); ReceiptError otherwise."""
    return check_signed(verifiers, attestation_bytes(*statement), attestation, BATCH_CONTEXT)


def receipt_bytes(receipt: Mapping[str, Any]) -> bytes:
    """What the receipt's `signature` signs: every other receipt field (KeyError if one is absent)."""
    return RECEIPT_CONTEXT + canonicalize({name: receipt[name] for name in RECEIPT_FIELDS[:-1]})


def sign(signer: Signer, message: bytes) -> str:
    """`base64(key hash || signature)` of `message`."""
    return base64.b64encode(signer.verifier.key_hash + signer.private_key.sign(message)).decode()


def check(verifiers: Sequence[Verifier], message: bytes, signature: Any) -> Verifier:
    """The trusted key whose signature `signature` is over `message`; ReceiptError otherwise."""
    if not isinstance(signature, str):
        raise ReceiptError("signature: must be a base64 string")
    try:
        raw = base64.b64decode(signature, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise ReceiptError("signature: not base64") from None
    if len(raw) != 68:
        raise ReceiptError("signature: must be a 4-byte key hash and a 64-byte Ed25519 signature")
    for verifier in verifiers:
        if verifier.key_hash == raw[:4]:
            try:
                verifier.public_key.verify(raw[4:], message)
            except InvalidSignature:
                raise ReceiptError(f"signature: does not verify with key {verifier.name}") from None
            return verifier
    raise ReceiptError(f"signature: made by an unknown key (hash {raw[:4].hex()})")


def make_receipt(
    signer: Signer, *, record_id: str, content_hash: str, source: str | None, received_at: str, topic: str,
    partition: int, offset: int, attestation: str | None,
) -> dict[str, Any]:  # fmt: skip
    """A v1 signed receipt for an event Kafka holds at (topic, partition, offset)."""
    receipt: dict[str, Any] = {
        "v": RECEIPT_VERSION, "id": record_id, "contentHash": content_hash, "source": source,
        "receivedAt": received_at, "topic": topic, "partition": partition, "offset": offset,
        "attestation": attestation,
    }  # fmt: skip
    receipt["signature"] = sign(signer, receipt_bytes(receipt))
    return receipt


def verify_receipt(receipt: Any, verifiers: Sequence[Verifier]) -> None:
    """Check a receipt's shape, its signature and the attestation inside it; ReceiptError otherwise."""
    if not isinstance(receipt, Mapping):
        raise ReceiptError("$: a receipt is a JSON object")
    missing = [name for name in RECEIPT_FIELDS if name not in receipt]
    if missing:
        raise ReceiptError(f"{missing[0]}: missing")
    if receipt["v"] != RECEIPT_VERSION:
        raise ReceiptError(f"v: unsupported receipt version {receipt['v']!r}")
    for name in ("id", "contentHash", "receivedAt", "topic"):
        if not isinstance(receipt[name], str):
            raise ReceiptError(f"{name}: must be a string")
    for name in ("partition", "offset"):  # JCS (RFC 8785) writes integers up to 2**53-1 only
        if type(receipt[name]) is not int or not 0 <= receipt[name] <= MAX_POSITION:
            raise ReceiptError(f"{name}: must be an integer in 0..2**53-1")
    for name in ("source", "attestation"):
        if receipt[name] is not None and not isinstance(receipt[name], str):
            raise ReceiptError(f"{name}: must be a string or null")
    try:  # a malformed receipt is a ReceiptError, never a crash of the caller's loop (argus verify, the SDK)
        signed = receipt_bytes(receipt)
    except ValueError as exc:  # CanonicalizationError: a lone surrogate
        raise ReceiptError(f"$: cannot be written in RFC 8785: {exc}") from None
    try:
        check_signed(verifiers, signed, receipt["signature"], RECEIPT_BATCH_CONTEXT)
    except ReceiptError as exc:
        raise ReceiptError(f"receipt {exc}") from None
    if receipt["attestation"] is not None:
        statement = (receipt["id"], receipt["contentHash"], receipt["source"], receipt["receivedAt"])
        try:
            check_attestation(verifiers, statement, receipt["attestation"])
        except ReceiptError as exc:
            raise ReceiptError(f"attestation {exc}") from None
