"""Writes vectors.json: Argus transparency-log test vectors (docs/transparency.md, section 7).

    .venv/bin/python tests/vectors/transparency/generate.py

Deterministic (Ed25519 signatures are), so tests/unit/test_transparency_vectors.py regenerates
it and fails if the committed file differs; the Go interop test (tests/vectors/interop) checks
the same file with golang.org/x/mod/sumdb/note and github.com/transparency-dev/merkle.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from argus_spec.merkle import consistency_proof, inclusion_proof, leaf_hash, leaf_source, root_hash
from argus_spec.note import Signer
from argus_spec.tlog import Checkpoint, log_entry, origin

HERE = Path(__file__).resolve().parent
TOPIC, PARTITION, LOG_NAME = "argus.events", 3, "argus.test"
#: RFC 6962's (and transparency-dev/merkle's) eight test leaves, as entries.
RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]


def entries() -> list[dict[str, Any]]:
    out = []
    for index in range(13):
        offset, commit_seq = 2 * index + (index > 6) * 5, 1 + index // 4
        current_hash = hashlib.sha256(f"record {index}".encode()).hexdigest()
        entry = log_entry(TOPIC, PARTITION, offset, commit_seq, current_hash)
        out.append(
            {
                "topic": TOPIC,
                "partition": PARTITION,
                "offset": offset,
                "commitSeq": commit_seq,
                "currentHash": current_hash,
                "entry": entry.hex(),
                "leafHash": leaf_hash(entry).hex(),
            }
        )
    # One edge case: a non-ASCII topic name is UTF-8 bytes with their byte length.
    wide = log_entry("t\u00e9st", 2**31 - 1, 2**63 - 1, 2**63 - 1, "f" * 64)
    out.append({"topic": "t\u00e9st", "partition": 2**31 - 1, "offset": 2**63 - 1, "commitSeq": 2**63 - 1,
                "currentHash": "f" * 64, "entry": wide.hex(), "leafHash": leaf_hash(wide).hex(),
                "notInTree": True})  # fmt: skip
    return out


def build() -> dict[str, Any]:
    signer = Signer.parse((HERE / "test-log.key").read_text())
    items = entries()
    leaves = [bytes.fromhex(e["leafHash"]) for e in items if not e.get("notInTree")]
    source = leaf_source(leaves)
    rfc_source = leaf_source([leaf_hash(bytes.fromhex(d)) for d in RFC_LEAVES])
    def note(size: int) -> str:
        return signer.sign(Checkpoint(origin(LOG_NAME, TOPIC, PARTITION), size, root_hash(source, size)).text())

    return {
        "description": "Argus transparency log vectors; see docs/transparency.md",
        "logVerifierKey": signer.verifier.encode(),
        "rfc6962": {
            "entries": RFC_LEAVES,
            "roots": [root_hash(rfc_source, n).hex() for n in range(0, 9)],
        },
        "entries": items,
        "roots": [root_hash(source, n).hex() for n in range(0, len(leaves) + 1)],
        "inclusion": [
            {"index": index, "size": size, "path": [h.hex() for h in inclusion_proof(source, index, size)]}
            for size in range(1, len(leaves) + 1)
            for index in range(size)
        ],
        "consistency": [
            {"first": first, "second": second, "proof": [h.hex() for h in consistency_proof(source, first, second)]}
            for second in range(1, len(leaves) + 1)
            for first in range(0, second + 1)
        ],
        "checkpoints": [{"size": size, "note": note(size)} for size in (1, 4, 7, len(leaves))],
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    (HERE / "vectors.json").write_text(render(), encoding="utf-8")
