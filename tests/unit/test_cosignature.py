"""C2SP tlog-cosignature: witness keys, and cosigned notes that stay ordinary signed notes whose
cosignatures are bound to the checkpoint text (argus_spec.cosignature)."""

from __future__ import annotations

import base64
import struct

import pytest

from argus_spec.cosignature import (
    WitnessSigner,
    WitnessVerifier,
    cosign,
    require_cosignatures,
    signed_message,
    verified_cosignatures,
)
from argus_spec.note import NoteError, Signer, open_note
from argus_spec.tlog import Checkpoint

LOG = Signer.generate("log.test")
ROOT = bytes(range(32))


def note(size: int = 7, root: bytes = ROOT) -> str:
    return LOG.sign(Checkpoint("log.test/argus.events/0", size, root).text())


def test_keys_round_trip_and_bind_name_and_algorithm() -> None:
    signer = WitnessSigner.generate("w1.example")
    assert WitnessSigner.parse(signer.encode()).verifier == signer.verifier
    assert WitnessVerifier.parse(signer.verifier.encode()) == signer.verifier
    # A note (algorithm 1) key is not a cosignature key, and a renamed key fails its hash.
    with pytest.raises(NoteError):
        WitnessVerifier.parse(LOG.verifier.encode())
    _name, key_hash, key = signer.verifier.encode().split("+", 2)
    with pytest.raises(NoteError):
        WitnessVerifier.parse(f"w2.example+{key_hash}+{key}")


def test_a_cosigned_note_opens_with_the_log_key_and_counts_distinct_witnesses() -> None:
    w1, w2 = WitnessSigner.generate("w1"), WitnessSigner.generate("w2")
    cosigned = cosign(cosign(note(), w1, 1_700_000_000), w2)
    assert open_note(cosigned, [LOG.verifier]) == Checkpoint("log.test/argus.events/0", 7, ROOT).text()
    found = require_cosignatures(cosigned, [w1.verifier, w2.verifier], 2)
    assert {c.witness for c in found} == {"w1", "w2"}
    assert [c.timestamp for c in found if c.witness == "w1"] == [1_700_000_000]
    # The line is key id || uint64 time || Ed25519 over "cosignature/v1\ntime T\n" + text.
    line = cosigned.splitlines()[-2]
    raw = base64.b64decode(line.rsplit(" ", 1)[1])
    assert raw[:4] == w1.verifier.key_id and struct.unpack(">Q", raw[4:12]) == (1_700_000_000,)
    w1.verifier.public_key.verify(raw[12:], signed_message(Checkpoint("log.test/argus.events/0", 7, ROOT).text(),
                                                          1_700_000_000))  # fmt: skip
    with pytest.raises(NoteError, match="1 trusted witness"):
        require_cosignatures(cosign(note(), w1), [w1.verifier, w2.verifier], 2)
    # Cosigning twice is still one witness.
    assert len(verified_cosignatures(cosign(cosign(note(), w1, 1), w1, 2), [w1.verifier])) == 1


def test_a_cosignature_moved_to_another_checkpoint_fails() -> None:
    w1 = WitnessSigner.generate("w1")
    line = cosign(note(7), w1).splitlines()[-1]
    other = note(8)
    moved = other + line + "\n"
    with pytest.raises(NoteError, match="invalid cosignature by w1"):
        verified_cosignatures(moved, [w1.verifier])
    assert verified_cosignatures(moved, []) == []  # untrusted lines are ignored
