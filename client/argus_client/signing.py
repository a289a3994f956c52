"""Signing audit events (RS256 and EdDSA) in the application, with only `cryptography` as dependency.

Why here: applications sign, through the SDK. What a signature covers and how it is checked is the
specification's (argus_spec.canonical, argus_spec.signature), so the bytes signed here are the
bytes every verifier checks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from argus_spec.canonical import ambiguity_reason, signing_bytes, v1_ambiguity
from argus_spec.signature import KEY_KINDS, Event, PrivateKey, SignatureError, UnsupportedKeyError, key_algorithm
from argus_spec.uuid7 import uuid7


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
    if signer.algorithm not in KEY_KINDS:
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
