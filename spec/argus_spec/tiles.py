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

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from argus_spec.merkle import HASH_SIZE, CompactRange, NodeId, fold, node_hash

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


def tile_width(size: int, level: int, index: int) -> int:
    """How many hashes tile (level, index) holds in a tree of `size` leaves (0: the tile is beyond it)."""
    return max(0, min(TILE_WIDTH, (size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH))


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """C2SP tlog-tiles path of a tile below the log's prefix: `tile/<L>/<N>[.p/<W>]`, with N in
    zero-padded 3-digit elements, all but the last prefixed by `x` (1234067 -> x001/x234/067)."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    path = f"tile/{level}/" + "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


_TILE_PATH = re.compile(r"tile/(0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


def parse_tile_path(path: str) -> tuple[int, int, int]:
    """(level, index, width) of a `tile/...` path in its one canonical spelling; raises ValueError."""
    match = _TILE_PATH.fullmatch(path)
    if match is None:
        raise ValueError("not a tile path: tile/<L>/<N>[.p/<W>] (C2SP tlog-tiles)")
    level, index = int(match[1]), int(match[2].replace("x", "").replace("/", ""))
    width = int(match[3]) if match[3] else TILE_WIDTH
    if level > 63 or width > TILE_WIDTH or tile_path(level, index, width) != path:
        raise ValueError("not a canonical tile path (level 0-63, width 1-255, no leading zero elements)")
    return level, index, width


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
