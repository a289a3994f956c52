"""Witness cosignatures on checkpoints: the C2SP tlog-cosignature format (cosignature/v1).

A witness that checked a checkpoint against the history it saw adds one signature line to the
log's signed note, so a cosigned checkpoint stays an ordinary signed note (the log key still
opens it with `note.open_note`, which skips lines of unknown keys). The line is
`— <witness name> <base64(key id || uint64_be(time) || Ed25519 signature)>`, where the key id is
the first 4 bytes of SHA-256(name || "\\n" || 0x04 || public key) and the signed message is
`cosignature/v1\\ntime <time>\\n` followed by the checkpoint text. Keys are written like note keys
(note.py) with algorithm byte 0x04. Reuses note.py's parsing; needs only `cryptography`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from argus_spec.note import SIGNATURE_PREFIX, NoteError, _check_name, _check_text

ALG_COSIGNATURE_V1 = 0x04


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()[:4]


def signed_message(text: str, timestamp: int) -> bytes:
    """What a witness signs: the cosignature/v1 header, then the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def _raw(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _decode_key(encoded: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise NoteError(f"{what}: bad base64: {exc}") from None
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise NoteError(f"{what}: only cosignature/v1 Ed25519 keys (algorithm 4) are supported")
    return raw[1:]


@dataclass(frozen=True)
class WitnessVerifier:
    """A witness's public key under its name: checks its cosignatures."""

    name: str
    public_key: ed25519.Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return cosignature_key_id(self.name, _raw(self.public_key))

    def encode(self) -> str:
        raw = bytes([ALG_COSIGNATURE_V1]) + _raw(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    @classmethod
    def parse(cls, text: str) -> WitnessVerifier:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a witness key is <name>+<hash>+<base64 key>")
        _check_name(parts[0])
        verifier = cls(parts[0], ed25519.Ed25519PublicKey.from_public_bytes(_decode_key(parts[2], "witness key")))
        if verifier.key_id.hex() != parts[1].lower():
            raise NoteError("witness key: key hash does not match name and key")
        return verifier


@dataclass(frozen=True)
class WitnessSigner:
    """A witness's private key: cosigns checkpoints it has checked."""

    name: str
    private_key: ed25519.Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> WitnessVerifier:
        return WitnessVerifier(self.name, self.private_key.public_key())

    def encode(self) -> str:
        seed = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        raw = bytes([ALG_COSIGNATURE_V1]) + seed
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{base64.b64encode(raw).decode()}"

    @classmethod
    def parse(cls, text: str) -> WitnessSigner:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a witness signer key is PRIVATE+KEY+<name>+<hash>+<base64 key>")
        signer = cls(parts[2], ed25519.Ed25519PrivateKey.from_private_bytes(_decode_key(parts[4], "signer key")))
        if signer.verifier.key_id.hex() != parts[3].lower():
            raise NoteError("witness signer key: key hash does not match name and key")
        return signer

    @classmethod
    def generate(cls, name: str) -> WitnessSigner:
        return cls(name, ed25519.Ed25519PrivateKey.generate())

    def signature_line(self, text: str, timestamp: int | None = None) -> str:
        """The cosignature line (without newline) for a checkpoint text."""
        _check_text(text)
        when = int(time.time()) if timestamp is None else timestamp
        signature = self.private_key.sign(signed_message(text, when))
        blob = self.verifier.key_id + struct.pack(">Q", when) + signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}"


def split_note(note: str) -> tuple[str, list[str]]:
    """(text, signature lines) of a signed note, without checking any signature."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    lines = signatures[:-1].split("\n")
    if any(not line.startswith(SIGNATURE_PREFIX) for line in lines):
        raise NoteError("malformed signature line")
    return text + "\n", lines


def add_signature_lines(note: str, lines: list[str]) -> str:
    """The note with extra signature lines (duplicates dropped, order kept)."""
    text, existing = split_note(note)
    merged = existing + [line for line in lines if line not in existing]
    return text + "\n" + "".join(line + "\n" for line in merged)


def cosign(note: str, signer: WitnessSigner, timestamp: int | None = None) -> str:
    """The note with this witness's cosignature added. Check the log's signature first: a witness
    cosigns only what it verified."""
    text, _ = split_note(note)
    return add_signature_lines(note, [signer.signature_line(text, timestamp)])


@dataclass(frozen=True)
class Cosignature:
    witness: str  # the witness's name
    key: str  # its verifier key
    timestamp: int
    line: str


def verified_cosignatures(note: str, witnesses: list[WitnessVerifier]) -> list[Cosignature]:
    """The valid cosignatures of trusted witnesses on the note (one per witness); lines of other
    keys are ignored, and a trusted witness's bad cosignature is an error (as in note.open_note)."""
    text, lines = split_note(note)
    known = {(w.name, w.key_id): w for w in witnesses}
    found: dict[str, Cosignature] = {}
    for line in lines:
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise NoteError(f"malformed signature line {line!r}") from None
        witness = known.get((name, raw[:4]))
        if witness is None:
            continue
        if len(raw) != 4 + 8 + 64:
            raise NoteError(f"malformed cosignature by {name}")
        (when,) = struct.unpack(">Q", raw[4:12])
        try:
            witness.public_key.verify(raw[12:], signed_message(text, when))
        except InvalidSignature:
            raise NoteError(f"invalid cosignature by {name}") from None
        found[witness.encode()] = Cosignature(name, witness.encode(), when, line)
    return list(found.values())


def require_cosignatures(note: str, witnesses: list[WitnessVerifier], required: int) -> list[Cosignature]:
    """The note's trusted cosignatures; NoteError unless at least `required` distinct witnesses signed."""
    found = verified_cosignatures(note, witnesses)
    if len(found) < required:
        names = ", ".join(c.witness for c in found) or "none"
        raise NoteError(f"{len(found)} trusted witness cosignature(s) ({names}), {required} required")
    return found
