"""The gateway's receipt key on the server side: loading it, signing fast, checking attestations.

The statements and their signed bytes are defined once, in argus_spec/receipt.py; this module
only holds the keys. Signing and verifying use PyNaCl (libsodium), ~1.6x faster than
`cryptography` and releasing the GIL (argus/trust/signatures.py). The gateway signs one v2 attestation
per request and one v2 receipt signature per request (each event's receipt with its audit path);
the processor checks each distinct v2 signature once (a small
bounded cache of verified signatures) and each event's audit path, a few SHA-256, where one
Ed25519 check per event used to cost more than the rest of decoding. tests/unit/test_receipts.py
checks both against the spec's vectors.

`argus receipt-key` makes the key: the gateway reads the private key file (ARGUS_RECEIPT_KEY);
the processor and auditors need only the verifier key it prints (ARGUS_RECEIPT_VERIFIER_KEYS).
"""

from __future__ import annotations

import argparse
import base64
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import Connection, select

from argus.db.schema import audit_records
from argus.runtime.settings import ConfigError, Settings
from argus_spec.note import NoteError, Signer, Verifier
from argus_spec.receipt import (
    BATCH_PREFIX,
    RECEIPT_VERSION,
    BatchSignature,
    ReceiptError,
    Statement,
    attestation_bytes,
    batch_attestations,
    batch_receipts,
    receipt_bytes,
)

DEFAULT_KEY_NAME = "argus-gateway"
#: Verified v2 signatures the processor remembers. A request's events reach the processor within
#: a few batches of each other, so a few thousand roots cover every request in flight.
VERIFIED_CACHE_SIZE = 4096
#: argus_native.batch_message: a v2 attestation's signature and signed bytes for a statement
#: (attestation, id, contentHash, source, receivedAt), or None where the reference must decide.
BatchMessage = Callable[[str, str, str, str | None, str], tuple[bytes, bytes] | None]


class ReceiptSigner:
    """The gateway's receipt key: signs attestations (before producing) and receipts (after)."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        raw = serialization.Encoding.Raw
        seed = signer.private_key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        self._key = SigningKey(seed)
        self._prefix = signer.verifier.key_hash

    def _sign_raw(self, message: bytes) -> bytes:
        return self._prefix + self._key.sign(message).signature

    def _sign(self, message: bytes) -> str:
        return base64.b64encode(self._sign_raw(message)).decode()

    def attest(self, record_id: str, content_hash: str, source: str | None, received_at: str) -> str:
        """A v1 attestation (one signature per event): what gateways before v2 wrote."""
        return self._sign(attestation_bytes(record_id, content_hash, source, received_at))

    def attest_batch(self, statements: Sequence[Statement]) -> list[str]:
        """v2 attestations of one request's events, under one signature."""
        return batch_attestations(self._sign_raw, statements)

    def receipts(self, statements: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """v2 receipts of one request's produced events (each statement: every receipt field but `v`
        and `signature`), under one signature."""
        return batch_receipts(self._sign_raw, statements)

    def receipt(self, statement: Mapping[str, Any]) -> dict[str, Any]:
        """`statement` (every receipt field but `v` and `signature`) as a v1 signed receipt: what
        the gateway answers for an event already stored and for a request that produced one event."""
        receipt = {"v": RECEIPT_VERSION, **statement}
        receipt["signature"] = self._sign(receipt_bytes(receipt))
        return receipt


@dataclass(frozen=True)
class AttestationChecker:
    """Checks the attestation an envelope carries against the trusted receipt keys.

    A v2 signature covers a whole request, so the processor meets it once per event of that
    request: each (signature, signed bytes) that verified is remembered (at most `cache_size`,
    oldest forgotten first) and not checked again. The signed bytes hold the root the event's own
    statement and path lead to, so a path that is wrong, or for another leaf, or spliced under
    another request's signature yields other bytes: a cache miss, and a signature that fails.
    `native` (argus_native.batch_message, from the processor) computes those bytes in Rust; where
    it answers None, the reference in argus_spec.receipt parses and refuses as always.
    """

    keys: Mapping[bytes, VerifyKey]  # key hash -> key
    cache_size: int = VERIFIED_CACHE_SIZE
    native: BatchMessage | None = None
    _verified: dict[bytes, None] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def verifies(self, signature: Any, record_id: str, content_hash: str, source: str | None, received_at: str) -> bool:
        if not isinstance(signature, str):
            return False
        if self.native is not None and signature.startswith(BATCH_PREFIX):
            signed = self.native(signature, record_id, content_hash, source, received_at)
            if signed is not None:
                return self._verifies_signed(*signed)
        message = attestation_bytes(record_id, content_hash, source, received_at)
        if signature.startswith(BATCH_PREFIX):
            return self._verifies_batch(signature, message)
        if len(signature) != 92:  # base64 of 68 bytes
            return False
        try:
            raw = base64.b64decode(signature, validate=True)
        except ValueError:
            return False
        return self._verifies(raw, message)

    def _verifies_batch(self, signature: str, statement: bytes) -> bool:
        try:
            batch = BatchSignature.parse(signature)
            message = batch.signed_bytes(statement)
        except ReceiptError:
            return False
        return self._verifies_signed(batch.signature, message)

    def _verifies_signed(self, signature: bytes, message: bytes) -> bool:
        """`signature` (key hash || Ed25519) over a v2 attestation's `message`, remembered once verified."""
        known = signature + message
        if known in self._verified:
            return True
        if not self._verifies(signature, message):
            return False
        with self._lock:  # the prepare step may run on more than one thread
            while self._verified and len(self._verified) >= self.cache_size:
                del self._verified[next(iter(self._verified))]
            self._verified[known] = None
        return True

    def _verifies(self, raw: bytes, message: bytes) -> bool:
        key = self.keys.get(raw[:4])
        if key is None:
            return False
        try:
            key.verify(message, raw[4:])
        except BadSignatureError:
            return False
        return True


def load_receipt_signer(settings: Settings) -> ReceiptSigner | None:
    """The gateway's receipt key from ARGUS_RECEIPT_KEY (None: the gateway issues no receipts)."""
    if not settings.receipt_key:
        return None
    try:
        return ReceiptSigner(Signer.parse(Path(settings.receipt_key).read_text(encoding="utf-8")))
    except (OSError, NoteError) as exc:
        message = f"cannot load the receipt key from {settings.receipt_key}: {exc}"
        raise ConfigError(f"ARGUS_RECEIPT_KEY: {message}") from None


def parse_verifier_keys(value: str, setting: str) -> list[Verifier]:
    """Verifier keys (`name+hash+key`) or files holding them, separated by commas or whitespace."""
    keys: list[Verifier] = []
    for item in value.replace(",", " ").split():
        try:
            lines = Path(item).read_text(encoding="utf-8").split() if "+" not in item else [item]
            keys += [Verifier.parse(line) for line in lines]
        except (OSError, NoteError) as exc:
            raise ConfigError(f"{setting}: {item}: {exc}") from None
    return keys


def load_receipt_verifiers(settings: Settings) -> list[Verifier]:
    """Trusted receipt keys: ARGUS_RECEIPT_VERIFIER_KEYS, else the public half of ARGUS_RECEIPT_KEY
    (one host running both services); empty when neither is set (every claim is then unattested)."""
    if settings.receipt_verifier_keys:
        return parse_verifier_keys(settings.receipt_verifier_keys, "ARGUS_RECEIPT_VERIFIER_KEYS")
    signer = load_receipt_signer(settings)
    return [signer.signer.verifier] if signer is not None else []


def attestation_checker(verifiers: list[Verifier], native: BatchMessage | None = None) -> AttestationChecker:
    raw, public = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    keys = {v.key_hash: VerifyKey(v.public_key.public_bytes(raw, public)) for v in verifiers}
    return AttestationChecker(keys, native=native)


def stored_statements(connection: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """For ids already stored: the receipt statement (all but `v` and `signature`) of the stored record."""
    r = audit_records.c
    rows = connection.execute(
        select(r.id, r.source, r.received_at, r.kafka_topic, r.kafka_partition, r.kafka_offset, r.attestation)
        .where(r.id.in_(ids))
    )  # fmt: skip
    return {
        row.id: {"source": row.source, "receivedAt": row.received_at, "topic": row.kafka_topic,
                 "partition": row.kafka_partition, "offset": row.kafka_offset, "attestation": row.attestation}
        for row in rows
    }  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    from argus.trust.log_key import write_signer_key

    return write_signer_key("receipt-key", args, Signer.generate)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("receipt-key", help="create the gateway's receipt signing key",
                                   description="Write the gateway's Ed25519 receipt key (mode 0600) for "
                                   "ARGUS_RECEIPT_KEY and print its verifier key for ARGUS_RECEIPT_VERIFIER_KEYS "
                                   "and `argus verify --receipt-key` (docs/receipts.md).")  # fmt: skip
    parser.add_argument("--name", default=DEFAULT_KEY_NAME, help=f"key name (default {DEFAULT_KEY_NAME})")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the private key")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.set_defaults(func=_run)
