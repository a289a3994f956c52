"""The transparency log's pure parts: RFC 9162 hashing and proofs, tiles, signed notes, checkpoints.

Spec: docs/transparency.md. The Go reference implementations check the same vectors in
tests/unit/test_go_interop.py.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus_spec.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_source,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from argus_spec.note import NoteError, Signer, Verifier, open_note
from argus_spec.tiles import TileTree, tile_node_source
from argus_spec.tlog import Checkpoint, log_entry, open_checkpoint, parse_origin

VECTORS_DIR = Path(__file__).resolve().parent.parent / "vectors" / "transparency"
VECTORS = json.loads((VECTORS_DIR / "vectors.json").read_text(encoding="utf-8"))


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH as RFC 9162 2.1.1 writes it, recursively."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves_of(count: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(count)]


def test_committed_vectors_are_what_the_code_generates() -> None:
    generate = runpy.run_path(str(VECTORS_DIR / "generate.py"))
    assert json.loads(generate["render"]()) == VECTORS


def test_rfc6962_roots() -> None:
    """The eight leaves and roots of RFC 6962's (and transparency-dev/merkle's) test data."""
    leaves = [leaf_hash(bytes.fromhex(e)) for e in VECTORS["rfc6962"]["entries"]]
    assert VECTORS["rfc6962"]["roots"][8] == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    for size, expected in enumerate(VECTORS["rfc6962"]["roots"]):
        assert reference_root(leaves[:size]).hex() == expected


def test_entry_encoding_vectors() -> None:
    for item in VECTORS["entries"]:
        entry = log_entry(item["topic"], item["partition"], item["offset"], item["commitSeq"], item["currentHash"])
        assert entry.hex() == item["entry"]
        assert leaf_hash(entry).hex() == item["leafHash"]
    with pytest.raises(ValueError, match="currentHash"):
        log_entry("t", 0, 0, 1, "AB" * 32)


def test_vector_proofs_verify_and_wrong_ones_do_not() -> None:
    roots = [bytes.fromhex(r) for r in VECTORS["roots"]]
    leaves = [bytes.fromhex(e["leafHash"]) for e in VECTORS["entries"] if not e.get("notInTree")]
    for p in VECTORS["inclusion"]:
        path = [bytes.fromhex(h) for h in p["path"]]
        verify_inclusion(p["index"], p["size"], leaves[p["index"]], path, roots[p["size"]])
        with pytest.raises(ProofError):
            verify_inclusion(p["index"], p["size"], leaves[p["index"]][::-1], path, roots[p["size"]])
    for c in VECTORS["consistency"]:
        proof = [bytes.fromhex(h) for h in c["proof"]]
        verify_consistency(c["first"], c["second"], roots[c["first"]], roots[c["second"]], proof)
        if 0 < c["first"] < c["second"]:
            with pytest.raises(ProofError):
                verify_consistency(c["first"], c["second"], roots[c["first"]], roots[c["first"]], proof)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_proofs_from_any_source_verify_against_the_reference_root(size: int, data: st.DataObject) -> None:
    leaves = leaves_of(size)
    tree = TileTree()
    tiles: dict[tuple[int, int], bytes] = {}
    while tree.size < size:  # grown in random batches, as the processor does
        step = data.draw(st.integers(1, size - tree.size))
        tiles.update(tree.append(leaves[tree.size : tree.size + step]))
        assert tree.root() == reference_root(leaves[: tree.size])
    tile_source = tile_node_source(lambda ids: {i: tiles[i] for i in ids if i in tiles})
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(0, size))
    for source in (leaf_source(leaves), tile_source):
        assert root_hash(source, size) == reference_root(leaves)
        verify_inclusion(index, size, leaves[index], inclusion_proof(source, index, size), reference_root(leaves))
        proof = consistency_proof(source, first, size)
        verify_consistency(first, size, reference_root(leaves[:first]), reference_root(leaves), proof)
        if proof:
            with pytest.raises(ProofError):
                verify_consistency(first, size, reference_root(leaves[:first]), reference_root(leaves), proof[:-1])


def test_tiles_cross_levels_and_reload() -> None:
    """65,536 + 300 leaves: two full tile levels and a partial third; a tree reloaded from its tiles grows on."""
    leaves = leaves_of(65_836)
    tree, tiles = TileTree(), {}
    for start in range(0, len(leaves), 4000):
        tiles.update(tree.append(leaves[start : start + 4000]))
    assert (2, 0) in tiles and len(tiles[(1, 0)]) == 256 * 32 and len(tiles[(1, 1)]) == 1 * 32
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    assert tree.root() == compact.root()
    reloaded = TileTree.load(tree.size, lambda ids: {i: tiles[i] for i in ids})
    assert reloaded.root() == tree.root()
    with pytest.raises(ValueError, match="tile 0/257"):
        TileTree.load(tree.size, lambda ids: {i: tiles[i] for i in ids if i != (0, 257)})


def test_signed_note_roundtrip_and_rejections() -> None:
    signer = Signer.parse((VECTORS_DIR / "test-log.key").read_text())
    verifier = Verifier.parse(VECTORS["logVerifierKey"])
    assert Signer.parse(signer.encode()).encode() == signer.encode()
    text = Checkpoint("argus.test/argus.events/0", 5, b"\x07" * 32).text()
    note = signer.sign(text)
    assert open_note(note, [verifier]) == text
    assert open_checkpoint(note, [verifier]) == Checkpoint("argus.test/argus.events/0", 5, b"\x07" * 32)
    other = Signer.generate("argus.test")  # same name, another key: its hash differs, so it is unknown
    with pytest.raises(NoteError, match="not signed by any trusted key"):
        open_note(note, [other.verifier])
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(note.replace("\n5\n", "\n6\n"), [verifier])
    with_witness = note + other.sign(text).rpartition("\n\n")[2]  # an extra, unknown signature is ignored
    assert open_note(with_witness, [verifier]) == text
    with pytest.raises(NoteError, match="key hash"):
        Verifier.parse(VECTORS["logVerifierKey"].replace("argus.test+", "argus.other+"))
    with pytest.raises(NoteError):
        signer.sign("no newline")


def test_checkpoint_text_and_origin_parsing() -> None:
    assert parse_origin("argus.example/prod/argus.events/12") == ("argus.example/prod", "argus.events", 12)
    for bad in ("a\n01\n" + "A" * 44 + "\n", "a\n1\nnot-base64\n", "a\n1\n"):
        with pytest.raises(NoteError):
            Checkpoint.parse(bad)
