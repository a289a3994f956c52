"""Read the WORM bucket back for `argus verify --from-s3 URL`: every records object checked against
its manifest (both SHA-256s, the count, each actor's first/last seq), every partition's commit
ranges checked to run from commit 1 without a hole, and the records returned deduplicated (a
re-delivery after a crash rewrites an overlapping range: its copies must be identical) and in
(actor, seq) order for the chain verifier. Where manifests carry the partition's Merkle tree
(s3_layout.py), the records rebuild each partition's tree in offset order and every manifest's
root must be the root at its size: a missing, added or altered record in the bucket shows there.
"""

from __future__ import annotations

from typing import Any

import orjson

from argus_spec.merkle import CompactRange
from argus_spec.tlog import record_leaf
from sinks import s3_layout
from sinks.base import Record
from sinks.s3_config import S3Config


def read_bucket(url: str) -> tuple[list[Record], list[str]]:
    """(records in actor/seq order, integrity problems found). Holds the records in memory."""
    config = S3Config.from_url(url)
    client = config.client()
    base = f"{config.prefix}/records/" if config.prefix else "records/"
    ranges: dict[int, list[tuple[int, int, str]]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=config.bucket, Prefix=base):
        for item in page.get("Contents", []):
            parsed = s3_layout.parse_key(item["Key"])
            if parsed is not None:
                ranges.setdefault(parsed[0], []).append((parsed[1], parsed[2], item["Key"]))
    problems: list[str] = []
    by_id: dict[str, Record] = {}
    for partition in sorted(ranges):
        covered = 0
        tree = _Tree()
        for first, through, key in sorted(ranges[partition]):
            if first > covered + 1:
                problems.append(f"partition {partition}: commits {covered + 1}..{first - 1} are in no object")
            covered = max(covered, through)
            problems += _read_object(client, config, partition, first, through, key, by_id, tree)
        problems += [f"partition {partition}: {problem}" for problem in tree.check()]
    records = sorted(by_id.values(), key=lambda r: (r["actorId"], r["seq"]))
    return records, problems


def _read_object(client: Any, config: S3Config, partition: int, first: int, through: int, key: str,
                 by_id: dict[str, Record], tree: _Tree) -> list[str]:  # fmt: skip
    manifest_key = s3_layout.keys(config.prefix, partition, first, through)[1]
    try:
        manifest = orjson.loads(client.get_object(Bucket=config.bucket, Key=manifest_key)["Body"].read())
        records = s3_layout.decode(client.get_object(Bucket=config.bucket, Key=key)["Body"].read(), manifest)
    except Exception as exc:
        return [f"{key}: {exc}"]
    if manifest.get("format", "record") != "record":
        return [f"{key}: holds {manifest.get('format')} events, not records: only format=record buckets verify"]
    problems = []
    actors: dict[str, list[int]] = {}
    for record in records:
        span = actors.setdefault(record["actorId"], [record["seq"], record["seq"]])
        span[0], span[1] = min(span[0], record["seq"]), max(span[1], record["seq"])
        seen = by_id.setdefault(record["id"], record)
        if seen != record:
            problems.append(f"{key}: record {record['id']} differs from its copy in another object")
    if actors != manifest.get("actors"):
        problems.append(f"{key}: actors' first/last seq differ from the manifest")
    return problems + tree.add(key, partition, manifest, records)


class _Tree:
    """One partition's leaves and tree heads as the objects give them, rebuilt and compared once
    all objects are read (overlapping re-deliveries give the same leaves twice)."""

    def __init__(self) -> None:
        self.leaves: dict[int, bytes] = {}  # kafka offset -> leaf hash
        self.heads: list[tuple[int, str, str]] = []  # (tree size, root hex, object key)

    def add(self, key: str, partition: int, manifest: dict[str, Any], records: list[Record]) -> list[str]:
        size, root, leaves, topic = (manifest.get(f) for f in ("treeSize", "rootHash", "leaves", "treeTopic"))
        if size is None:
            return []  # written without a tree (no transparency log, or an older manifest)
        if not isinstance(leaves, list) or len(leaves) != len(records):
            return [f"{key}: manifest has {len(leaves or [])} leaves for {len(records)} records"]
        problems = []
        for (offset, commit_seq), record in zip(leaves, records, strict=True):
            leaf = record_leaf(str(topic), partition, offset, commit_seq, record["currentHash"])
            if self.leaves.setdefault(offset, leaf) != leaf:
                problems.append(f"{key}: the leaf at offset {offset} differs from another object's")
        self.heads.append((int(size), str(root), key))
        return problems

    def check(self) -> list[str]:
        """Every manifest's root must be the root of the first treeSize leaves in offset order."""
        if not self.heads:
            return []
        leaves = [self.leaves[offset] for offset in sorted(self.leaves)]
        wanted: dict[int, list[tuple[str, str]]] = {}
        for size, root, key in self.heads:
            wanted.setdefault(size, []).append((root, key))
        if max(wanted) > len(leaves):
            return [f"manifests name a tree of {max(wanted)} leaves, the objects hold {len(leaves)} records"]
        problems = []
        tree = CompactRange()
        for size in range(len(leaves) + 1):
            if size:
                tree.append(leaves[size - 1])
            for root, key in wanted.get(size, []):
                if tree.root().hex() != root:
                    problems.append(f"{key}: its records do not rebuild the tree root of size {size} in its manifest")
        return problems
