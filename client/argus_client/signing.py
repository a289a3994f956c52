"""Signing and verifying audit events (RS256 and EdDSA), with only `cryptography` as dependency.

Why here: clients sign, and both client tests and the processor must agree on every rule, so
the checks and the rejection reasons live in one place (`prepare_verification`). The processor's
batch verifier (argus/signatures.py) reuses them and only swaps in a faster Ed25519 backend.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from argus_client.canonical import CanonicalFormError, ambiguity_reason, signing_bytes, v1_ambiguity
from argus_client.uuid7 import uuid7

Algorithm: TypeAlias = Literal["RS256", "EdDSA"]
PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

MIN_RSA_BITS: Final = 2048
ED25519_SIGNATURE_BYTES: Final = 64
_KEY_KIND: Final[dict[str, str]] = {"RS256": "RSA", "EdDSA": "Ed25519"}

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


class Signer(Protocol):
    """Anything that signs bytes for one key: a PEM key, a KMS or HSM client, ..."""

    @property
    def algorithm(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    def __call__(self, data: bytes) -> bytes: ...


class PemSigner:
    """Signs with a private key held in this process (RS256 = PKCS#1 v1.5 + SHA-256; EdDSA = Ed25519)."""

    def __init__(self, private_key: PrivateKey, key_id: str) -> None:
        self._algorithm = key_algorithm(private_key)
        self._key = private_key
        self._key_id = key_id

    @classmethod
    def from_pem(cls, pem: bytes, key_id: str, password: bytes | None = None) -> PemSigner:
        """Load a PKCS#8 (or PKCS#1 RSA) private key PEM."""
        key = serialization.load_pem_private_key(pem, password=password)
        if not isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
            raise UnsupportedKeyError(f"unsupported key type {type(key).__name__}; use RSA or Ed25519")
        return cls(key, key_id)

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def key_id(self) -> str:
        return self._key_id

    def __call__(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(data)


@dataclass(frozen=True)
class CallableSigner:
    """Adapts a plain `(bytes) -> bytes` function (e.g. a KMS call) to the Signer protocol."""

    sign: Callable[[bytes], bytes]
    algorithm: str
    key_id: str

    def __call__(self, data: bytes) -> bytes:
        return self.sign(data)


def sign_event(event: Event, signer: Signer, *, format: str = "v1") -> Event:
    """Return a signed copy of `event`. v2 assigns an id first when missing, because v2 signs the id.

    Raises SignatureError for a v1 event that v1 cannot sign unambiguously, CanonicalFormError for
    content the format cannot represent, and ValueError for an unknown format or algorithm.
    """
    if format not in ("v1", "v2"):
        raise ValueError(f"unknown signature format {format!r}; expected 'v1' or 'v2'")
    if signer.algorithm not in _KEY_KIND:
        raise ValueError(f"unsupported signature algorithm {signer.algorithm!r}; expected RS256 or EdDSA")
    signed = dict(event)
    signed["signatureAlgorithm"] = signer.algorithm
    signed["publicKeyId"] = signer.key_id
    signed["signatureFormat"] = format
    if format == "v2" and not signed.get("id"):
        signed["id"] = uuid7()
    if format == "v1" and (field := v1_ambiguity(signed)) is not None:
        raise SignatureError(ambiguity_reason(field))
    signed["signature"] = base64.b64encode(signer(signing_bytes(signed))).decode("ascii")
    return signed


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
            f"signatureAlgorithm: {algorithm} does not match {_KEY_KIND[key_algorithm_]} key {key_id!r}"
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
    checking its validity period, is the caller's job (argus.keys.KeyRegistry on the server).
    """
    label = key_id if key_id is not None else str(event.get("publicKeyId"))
    try:
        algorithm = key_algorithm(public_key)
    except UnsupportedKeyError as exc:
        raise SignatureError(f"signature: key {label!r} is unusable: {exc}") from None
    signature, data = prepare_verification(event, algorithm, label)
    if not verify_signature(public_key, signature, data):
        raise SignatureError("signature: does not verify")
