"""RFC 9162 Merkle trees: hashing, a compact range, proof generation and proof verification.

Pure and storage-free (standard library only), so an auditor verifies inclusion and consistency
proofs offline with this module alone. Proofs are generated from a `NodeSource`, which returns
the hashes of complete subtrees by (level, index); the processor's tiles are one such source,
a list of leaf hashes another (`leaf_source`). Spec: docs/transparency.md.

Node ids: level 0 holds the leaf hashes; node (level, index) is the root of the complete subtree
over leaves [index * 2^level, (index + 1) * 2^level).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
#: Returns the hash of each requested complete-subtree node, in the order asked.
NodeSource = Callable[[Sequence[NodeId]], Sequence[bytes]]


class ProofError(ValueError):
    """A proof does not verify (or cannot be built for the sizes asked)."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 2.1.1: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 2.1.1: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The complete subtrees that make up leaves [begin, end), left to right, largest first.

    Valid for the ranges RFC 9162's recursion produces: `begin` aligned to a power of two that
    is at least `end - begin`.
    """
    nodes = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a range from its complete subtrees (left to right): merged from the right."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def range_hashes(source: NodeSource, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each [begin, end) range, fetching all needed nodes from `source` in one call."""
    plans = [range_nodes(begin, end) for begin, end in ranges]
    wanted = sorted({node for plan in plans for node in plan})
    found = dict(zip(wanted, source(wanted), strict=True))
    return [fold([found[node] for node in plan]) for plan in plans]


def root_hash(source: NodeSource, size: int) -> bytes:
    """MTH(D[0:size])."""
    return range_hashes(source, [(0, size)])[0] if size else EMPTY_ROOT


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[size]) (RFC 9162 2.1.3.1), bottom first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    path = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:
            path.append((begin + k, end))
            end = begin + k
        else:
            path.append((begin, begin + k))
            begin += k
    return path[::-1]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(first, D[second]) (RFC 9162 2.1.4.1)."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    out = []
    begin, end, whole = 0, second, True
    while True:
        size, mine = end - begin, first - begin
        if mine == size:
            if not whole:
                out.append((begin, end))
            break
        k = _split(size)
        if mine <= k:
            out.append((begin + k, end))
            end = begin + k
        else:
            out.append((begin, begin + k))
            begin += k
            whole = False
    return out[::-1]


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    return range_hashes(source, inclusion_ranges(index, size))


def consistency_proof(source: NodeSource, first: int, second: int) -> list[bytes]:
    return range_hashes(source, consistency_ranges(first, second))


def inclusion_proofs(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """MTH(leaves) and the inclusion proof (PATH, RFC 9162 2.1.3.1) of every leaf, bottom first.

    One pass over the tree (len(leaves) - 1 node hashes), where `inclusion_proof` per leaf would
    hash each subtree again: the gateway proves every event of a request this way (docs/receipts.md).
    """
    if not leaves:
        raise ProofError("a tree of no leaves has no inclusion proofs")
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = _split(len(leaves))
    left, left_paths = inclusion_proofs(leaves[:k])
    right, right_paths = inclusion_proofs(leaves[k:])
    for path in left_paths:
        path.append(right)
    for path in right_paths:
        path.append(left)
    return node_hash(left, right), left_paths + right_paths


def leaf_source(leaves: Sequence[bytes]) -> NodeSource:
    """A node source over a list of leaf hashes (small trees, tests, offline recomputation)."""

    def get(nodes: Sequence[NodeId]) -> list[bytes]:
        out = []
        for level, index in nodes:
            begin = index << level
            layer = list(leaves[begin : begin + (1 << level)])
            if len(layer) != 1 << level:
                raise ProofError(f"node ({level}, {index}) is not a complete subtree of {len(leaves)} leaves")
            while len(layer) > 1:
                layer = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
            out.append(layer[0])
        return out

    return get


class CompactRange:
    """The right edge of a tree grown from empty: one complete subtree per set bit of its size.

    Appending is O(1) amortised and memory O(log n), so a verifier recomputes the root of any
    number of leaves as it streams them.
    """

    def __init__(self) -> None:
        self.size = 0
        self.nodes: list[bytes] = []  # largest subtree first

    def append(self, leaf: bytes) -> None:
        self.nodes.append(leaf)
        self.size += 1
        merges = (self.size & -self.size).bit_length() - 1  # trailing zeros: subtrees completed
        for _ in range(merges):
            right = self.nodes.pop()
            self.nodes[-1] = node_hash(self.nodes[-1], right)

    def root(self) -> bytes:
        return fold(self.nodes)

    def copy(self) -> CompactRange:
        other = CompactRange()
        other.size, other.nodes = self.size, list(self.nodes)
        return other


def _lsb(value: int) -> int:
    return value & 1


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 2.1.3.2); raises ProofError if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, result = index, size - 1, leaf
    sha256 = hashlib.sha256  # node_hash and _lsb inlined: the processor checks a path per attested event
    for sibling in path:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            result = sha256(b"\x01" + sibling + result).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = sha256(b"\x01" + result + sibling).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> None:
    """Raises ProofError unless `leaf` is at `index` of the tree of `size` whose root is `root`."""
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of size {size}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """Raises ProofError unless the tree (second, second_root) extends (first, first_root) (RFC 9162 2.1.4.2)."""
    if not 0 <= first <= second:
        raise ProofError(f"size {second} cannot extend size {first}")
    if first == second or first == 0:
        if proof:
            raise ProofError("consistency proof must be empty")
        if first == second and first_root != second_root:
            raise ProofError(f"two different roots for size {first}")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while _lsb(fn):
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if _lsb(fn) or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != first_root:
        raise ProofError(f"consistency proof does not lead to the root of size {first}")
    if sr != second_root:
        raise ProofError(f"consistency proof does not lead to the root of size {second}")
