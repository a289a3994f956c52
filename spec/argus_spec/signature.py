"""Verifying audit event signatures (RS256 and EdDSA), with only `cryptography` as dependency.

Why here: the gateway, the processor, `argus verify` and an auditor must agree on every rule, so
the checks and the rejection reasons live in one place (`prepare_verification`). The processor's
batch verifier (argus/trust/signatures.py) reuses them and only swaps in a faster Ed25519 backend.
Making signatures is the SDK's job (argus_client.signing).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final, Literal, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from argus_spec.canonical import CanonicalFormError, signing_bytes

Algorithm: TypeAlias = Literal["RS256", "EdDSA"]
PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

MIN_RSA_BITS: Final = 2048
ED25519_SIGNATURE_BYTES: Final = 64
#: The key type each signatureAlgorithm needs.
KEY_KINDS: Final[dict[str, str]] = {"RS256": "RSA", "EdDSA": "Ed25519"}

Event = dict[str, Any]


class SignatureError(ValueError):
    """A signature is missing, malformed or wrong; `reason` is the `field: message` text we report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedKeyError(ValueError):
    """A key that Argus will not sign or verify with (not RSA/Ed25519, or RSA below 2048 bits)."""


def key_algorithm(key: PublicKey | PrivateKey) -> Algorithm:
    """The only algorithm a key may be used with; RSA keys must have at least 2048 bits."""
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "EdDSA"
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        if key.key_size < MIN_RSA_BITS:
            raise UnsupportedKeyError(f"RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are required")
        return "RS256"
    raise UnsupportedKeyError(f"unsupported key type {type(key).__name__}; use RSA (RS256) or Ed25519 (EdDSA)")


def prepare_verification(event: Event, key_algorithm_: str, key_id: str) -> tuple[bytes, bytes]:
    """Apply every rule except the cryptographic check; return (signature bytes, signed bytes).

    Order of checks (first failure is the reported reason): signature present, signatureFormat
    known, algorithm matches the key type, base64, canonical form. A v1 event with `|` in a field
    is verified as the reference service verifies it (its v1 string as is) and accepted: the
    reference Go client cannot be told about a refusal, so refusing would lose the event. Storage
    marks it (`signature_ambiguous`, `canonical.v1_ambiguity`); our own `sign_event` still refuses
    to create such a signature.
    """
    signature = event.get("signature")
    if not signature:
        raise SignatureError("signature: missing")
    fmt = event.get("signatureFormat") or "v1"
    if fmt not in ("v1", "v2"):
        raise SignatureError(f"signatureFormat: unknown format {fmt!r}; expected 'v1' or 'v2'")
    algorithm = event.get("signatureAlgorithm")
    if algorithm != key_algorithm_:
        raise SignatureError(
            f"signatureAlgorithm: {algorithm} does not match {KEY_KINDS[key_algorithm_]} key {key_id!r}"
        )
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise SignatureError("signature: malformed base64") from None
    if algorithm == "EdDSA" and len(raw) != ED25519_SIGNATURE_BYTES:
        raise SignatureError(f"signature: an Ed25519 signature has 64 bytes, got {len(raw)}")
    try:
        return raw, signing_bytes(event)
    except CanonicalFormError as exc:
        raise SignatureError(exc.reason) from None


def verify_signature(public_key: PublicKey, signature: bytes, data: bytes) -> bool:
    """The cryptographic check alone, with `cryptography` (OpenSSL)."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if len(signature) != (public_key.key_size + 7) // 8:
                return False
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def verify_event(event: Event, public_key: PublicKey, *, key_id: str | None = None) -> None:
    """Raise SignatureError unless `event` carries a valid signature by `public_key`.

    `key_id` only labels messages (default: the event's publicKeyId); looking the key up, and
    checking its validity period, is the caller's job (argus.trust.key_registry.KeyRegistry on the server).
    """
    label = key_id if key_id is not None else str(event.get("publicKeyId"))
    try:
        algorithm = key_algorithm(public_key)
    except UnsupportedKeyError as exc:
        raise SignatureError(f"signature: key {label!r} is unusable: {exc}") from None
    signature, data = prepare_verification(event, algorithm, label)
    if not verify_signature(public_key, signature, data):
        raise SignatureError("signature: does not verify")
