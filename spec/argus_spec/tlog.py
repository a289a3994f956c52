"""What Argus' transparency log commits to: the leaf entry of a record and the checkpoint text.

One Merkle tree per Kafka topic and partition, leaves in commit (= offset) order. The entry binds
the record's currentHash (which covers its content and its chain link) to where and when it
was committed, which the hash chain leaves out. Checkpoints are C2SP tlog-checkpoint notes.
Spec and test vectors: docs/transparency.md, tests/vectors/transparency/.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from argus_spec.merkle import HASH_SIZE, leaf_hash
from argus_spec.note import NoteError, Verifier, open_note

ENTRY_VERSION = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")


_OFFSET_SEQ = struct.Struct(">QQ")


def _entry_prefix(topic: str, partition: int) -> bytes:
    """The entry's bytes before the offset: the same for every record of a partition."""
    name = topic.encode()
    return struct.pack(">BH", ENTRY_VERSION, len(name)) + name + struct.pack(">I", partition)


def log_entry(topic: str, partition: int, offset: int, commit_seq: int, current_hash: str) -> bytes:
    """The entry bytes of one record (docs/transparency.md, section 2)."""
    if not _HEX64.fullmatch(current_hash):
        raise ValueError(f"currentHash must be 64 lowercase hex digits, got {current_hash!r}")
    return _entry_prefix(topic, partition) + _OFFSET_SEQ.pack(offset, commit_seq) + bytes.fromhex(current_hash)


def record_leaf(topic: str, partition: int, offset: int, commit_seq: int, current_hash: str) -> bytes:
    """The Merkle leaf hash of one record: SHA-256(0x00 || entry)."""
    return leaf_hash(log_entry(topic, partition, offset, commit_seq, current_hash))


def partition_leaves(topic: str, partition: int) -> Callable[[int, int, str], bytes]:
    """`record_leaf` for one partition's records, (offset, commit_seq, currentHash) -> leaf hash.

    The writer's hot path (two SHA-256 per record is all the log should cost): the constant
    prefix is packed once, and currentHash is not re-validated, since the caller computed it
    as a SHA-256 hex digest itself; a wrong length still fails.
    """
    prefix = b"\x00" + _entry_prefix(topic, partition)  # leaf_hash's 0x00, then the entry
    pack, sha256 = _OFFSET_SEQ.pack, hashlib.sha256

    def leaf(offset: int, commit_seq: int, current_hash: str) -> bytes:
        digest = bytes.fromhex(current_hash)
        if len(digest) != HASH_SIZE:
            raise ValueError(f"currentHash must be 64 hex digits, got {current_hash!r}")
        return sha256(prefix + pack(offset, commit_seq) + digest).digest()

    return leaf


def origin(log_name: str, topic: str, partition: int) -> str:
    """The checkpoint origin of one partition's tree, e.g. `argus.example/argus.events/0`."""
    return f"{log_name}/{topic}/{partition}"


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and root (C2SP tlog-checkpoint, no extension lines)."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("checkpoint: expected origin, size and root hash lines")
        origin_line, size_line, root_line = lines[:3]
        if not origin_line or not size_line.isdigit() or (size_line != "0" and size_line.startswith("0")):
            raise NoteError("checkpoint: bad origin or size line")
        try:
            root = base64.b64decode(root_line, validate=True)
        except binascii.Error:
            raise NoteError("checkpoint: root hash is not base64") from None
        if len(root) != HASH_SIZE:
            raise NoteError("checkpoint: root hash is not 32 bytes")
        return cls(origin_line, int(size_line), root)


def open_checkpoint(note: str, verifiers: list[Verifier]) -> Checkpoint:
    """Verify a signed checkpoint note against trusted keys and parse it."""
    return Checkpoint.parse(open_note(note, verifiers))


def parse_origin(text: str) -> tuple[str, str, int]:
    """(log name, topic, partition) of an Argus origin."""
    rest, _, partition = text.rpartition("/")
    log_name, _, topic = rest.rpartition("/")  # topic names cannot hold "/", log names may
    if not log_name or not topic or not partition.isdigit():
        raise NoteError(f"checkpoint origin {text!r} is not <log>/<topic>/<partition>")
    return log_name, topic, int(partition)
