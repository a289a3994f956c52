"""C2SP signed notes with Ed25519 keys (the format of Go's golang.org/x/mod/sumdb/note).

A signed note is the text (UTF-8, ending in a newline), a blank line, then one line per
signature: `— <key name> <base64(4-byte key hash || signature)>`. The key hash is the first four
bytes of SHA-256(key name || "\\n" || 0x01 || public key). Keys are exchanged as strings:
verifier `<name>+<hash hex>+<base64(0x01 || public key)>`, signer
`PRIVATE+KEY+<name>+<hash hex>+<base64(0x01 || private seed)>`. Needs only `cryptography`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash and a space


class NoteError(ValueError):
    """A note, key or signature is malformed, or no trusted key signed the note."""


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"invalid key name {name!r}: non-empty, no spaces, no '+'")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte id a signature line carries, binding the key's name and its bytes."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _raw_public(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A trusted public key under its name."""

    name: str
    public_key: ed25519.Ed25519PublicKey

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, _raw_public(self.public_key))

    def encode(self) -> str:
        raw = bytes([ALG_ED25519]) + _raw_public(self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(raw).decode()}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # base64 may hold "+"
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<hash>+<base64 key>")
        name, hash_hex, key_b64 = parts
        _check_name(name)
        try:
            raw = base64.b64decode(key_b64, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"verifier key: bad base64: {exc}") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key: only Ed25519 keys (algorithm 1, 32 bytes) are supported")
        verifier = cls(name, ed25519.Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_hash.hex() != hash_hex.lower():
            raise NoteError("verifier key: key hash does not match name and key")
        return verifier


@dataclass(frozen=True)
class Signer:
    """A private key under its name; signs note texts."""

    name: str
    private_key: ed25519.Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.private_key.public_key())

    def encode(self) -> str:
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        raw = bytes([ALG_ED25519]) + seed
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_hash.hex()}+{base64.b64encode(raw).decode()}"

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<hash>+<base64 key>")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except binascii.Error as exc:
            raise NoteError(f"signer key: bad base64: {exc}") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("signer key: only Ed25519 keys are supported")
        signer = cls(parts[2], ed25519.Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_hash.hex() != parts[3].lower():
            raise NoteError("signer key: key hash does not match name and key")
        return signer

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, ed25519.Ed25519PrivateKey.generate())

    def sign(self, text: str) -> str:
        """The signed note: `text`, a blank line, this key's signature line."""
        _check_text(text)
        signature = self.private_key.sign(text.encode())
        line = base64.b64encode(self.verifier.key_hash + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {line}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text must not contain control characters")


def open_note(note: str, verifiers: list[Verifier]) -> str:
    """The text of a signed note if at least one known signature verifies; else NoteError.

    Signatures by unknown keys are ignored (a witness may add its own); a known key's bad
    signature fails the note.
    """
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text += "\n"
    _check_text(text)
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified = 0
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise NoteError(f"malformed signature line {line!r}") from None
        if len(raw) < 5:
            raise NoteError(f"malformed signature line {line!r}")
        verifier = known.get((name, raw[:4]))
        if verifier is None:
            continue
        try:
            verifier.public_key.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"invalid signature by {name}") from None
        verified += 1
    if not verified:
        raise NoteError("note is not signed by any trusted key")
    return text
