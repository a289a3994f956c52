"""A Merkle tree kept as C2SP tlog-tiles: grow it by appending leaves, read any node back.

Tile (level, index) holds up to 256 hashes of tree level 8 * level, starting at hash number
256 * index; tile level 0 holds the leaf hashes, and a hash of tree level 8 * (level + 1) is the
root of a full tile of the level below. The nodes needed to extend a tree (its right edge) all
lie in the rightmost, partial tile of each level, so `TileTree` keeps only those in memory, each
with its compact range: appending a leaf then costs one leaf hash and, amortised, one node hash,
and the root is a fold of at most 8 hashes per level (no tile is re-hashed per batch).
Pure: storage reads and writes tile bytes, this module decides which and what they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from argus_client.merkle import HASH_SIZE, CompactRange, NodeId, fold, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

TileId = tuple[int, int]
#: Reads tiles by id: their bytes (a partial tile may hold more hashes than a caller needs).
TileReader = Callable[[Sequence[TileId]], dict[TileId, bytes]]


def subtree_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a complete subtree whose bottom layer is `hashes` (a power of two of them)."""
    layer = list(hashes)
    while len(layer) > 1:
        layer = list(map(node_hash, layer[0::2], layer[1::2]))
    return layer[0]


def edge_tiles(size: int) -> list[tuple[int, int, int]]:
    """(level, index, width) of the rightmost tile of each level of a tree of `size` leaves."""
    out = []
    level, count = 0, size
    while True:
        out.append((level, count >> TILE_HEIGHT, count % TILE_WIDTH))
        count >>= TILE_HEIGHT
        if count == 0:
            return out
        level += 1


def split_hashes(data: bytes) -> list[bytes]:
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def _compact(hashes: Sequence[bytes]) -> CompactRange:
    compact = CompactRange()
    for value in hashes:
        compact.append(value)
    return compact


@dataclass
class TileTree:
    """One tree's size and right edge (the partial tile of each level), able to append and give its root."""

    size: int = 0
    edges: list[list[bytes]] = field(default_factory=lambda: [[]])
    #: The compact range of each edge tile (derived from `edges`; kept so no tile is hashed twice).
    ranges: list[CompactRange] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.ranges) != len(self.edges):
            self.ranges = [_compact(tile) for tile in self.edges]

    @classmethod
    def load(cls, size: int, read: TileReader) -> TileTree:
        """Rebuild the right edge from stored tiles; raises ValueError if a tile is missing or short."""
        wanted = [(level, index, width) for level, index, width in edge_tiles(size) if width]
        tiles = read([(level, index) for level, index, _ in wanted])
        edges: list[list[bytes]] = [[] for _ in edge_tiles(size)]
        for level, index, width in wanted:
            data = tiles.get((level, index), b"")
            if len(data) < width * HASH_SIZE:
                raise ValueError(f"tile {level}/{index} holds {len(data) // HASH_SIZE} hashes, tree needs {width}")
            edges[level] = split_hashes(data[: width * HASH_SIZE])
        return cls(size, edges)

    def copy(self) -> TileTree:
        """An independent copy (the processor extends a copy and keeps it once the batch commits)."""
        return TileTree(self.size, [list(tile) for tile in self.edges], [r.copy() for r in self.ranges])

    def append(self, leaves: Iterable[bytes]) -> dict[TileId, bytes]:
        """Append leaf hashes; the tiles that changed (id -> full content) for storage to upsert."""
        changed: dict[TileId, bytes] = {}
        pending = list(leaves)
        level, count = 0, self.size  # count: hashes at this level before the append
        added = len(pending)
        while pending:
            if len(self.edges) <= level:
                self.edges.append([])
                self.ranges.append(CompactRange())
            tile, compact, index = self.edges[level], self.ranges[level], count >> TILE_HEIGHT
            completed = []
            for value in pending:
                tile.append(value)
                compact.append(value)
                if len(tile) == TILE_WIDTH:
                    changed[(level, index)] = b"".join(tile)
                    completed.append(compact.nodes[0])  # a full tile's range is its root
                    tile, compact, index = [], CompactRange(), index + 1
            self.edges[level], self.ranges[level] = tile, compact
            if tile:
                changed[(level, index)] = b"".join(tile)
            pending = completed
            count >>= TILE_HEIGHT
            level += 1
        self.size += added
        return changed

    def root(self) -> bytes:
        """MTH of the whole tree: the complete subtrees of each edge tile, highest level first."""
        return fold([node for compact in reversed(self.ranges) for node in compact.nodes])


def node_tiles(nodes: Sequence[NodeId]) -> list[TileId]:
    """The tiles that hold the hashes each node is computed from."""
    out = set()
    for level, index in nodes:
        tile_level, sub = divmod(level, TILE_HEIGHT)
        out.add((tile_level, (index << sub) >> TILE_HEIGHT))
    return sorted(out)


def tile_node_source(read: TileReader) -> Callable[[Sequence[NodeId]], list[bytes]]:
    """A merkle.NodeSource over stored tiles: one read per call."""

    def get(nodes: Sequence[NodeId]) -> list[bytes]:
        tiles = read(node_tiles(nodes))
        out = []
        for level, index in nodes:
            tile_level, sub = divmod(level, TILE_HEIGHT)
            first = index << sub
            data = tiles.get((tile_level, first >> TILE_HEIGHT), b"")
            offset = (first % TILE_WIDTH) * HASH_SIZE
            chunk = data[offset : offset + (HASH_SIZE << sub)]
            if len(chunk) != HASH_SIZE << sub:
                raise ValueError(f"node ({level}, {index}) is not stored")
            out.append(subtree_root(split_hashes(chunk)))
        return out

    return get
