"""How committed records lie in the WORM bucket; shared by the S3 sink and `argus verify --from-s3`.

One object per partition and commit range, at keys that depend only on that range, so a retry
(or a re-delivery after a crash) writes the same key with the same bytes:

    PREFIX/records/p00003/000000000041-000000000057.ndjson.gz   gzip (mtime 0) of NDJSON records
    PREFIX/manifests/p00003/000000000041-000000000057.json      its manifest

A manifest names the range, the record count, first/last seq per actor, the SHA-256 of the
NDJSON and of the gzip object, and the partition's Merkle tree after the range (docs/transparency.md):
`treeTopic`, `treeSize`, `rootHash` as the processor stored them in the range's commits, and
`leaves`, each record's [kafkaOffset, commitSeq] in record order: with the record's currentHash
and the partition they make its leaf entry, which records do not carry. All four are null when
the processor keeps no tree for the partition.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from typing import Any

import orjson

from sinks.base import Record, TreeHead
from sinks.formats import RENDERS

VERSION = 2  # 2: the tree fields are filled in and `leaves` added
_KEY = re.compile(r"(?:^|/)records/p(\d{5})/(\d{12})-(\d{12})\.ndjson\.gz$")


def keys(prefix: str, partition: int, first_seq: int, through_seq: int) -> tuple[str, str]:
    """(records key, manifest key) of one partition's commits first_seq..through_seq."""
    base = f"{prefix}/" if prefix else ""
    name = f"p{partition:05d}/{first_seq:012d}-{through_seq:012d}"
    return f"{base}records/{name}.ndjson.gz", f"{base}manifests/{name}.json"


def parse_key(key: str) -> tuple[int, int, int] | None:
    """(partition, first_seq, through_seq) of a records key, None for any other key."""
    match = _KEY.search(key)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def encode(partition: int, first_seq: int, through_seq: int, records: list[Record],
           output: str = "record", tree: TreeHead | None = None) -> tuple[bytes, dict[str, Any]]:  # fmt: skip
    """The gzip object (records in the `output` format, sinks/formats.py) and its manifest.
    Deterministic: the same records give the same bytes."""
    render = RENDERS[output]
    body = b"".join(orjson.dumps(render(record)) + b"\n" for record in records)
    blob = gzip.compress(body, compresslevel=6, mtime=0)
    actors: dict[str, list[int]] = {}
    for record in records:
        span = actors.setdefault(str(record["actorId"]), [record["seq"], record["seq"]])
        span[0], span[1] = min(span[0], record["seq"]), max(span[1], record["seq"])
    manifest = {
        "version": VERSION,
        "format": output,
        "partition": partition,
        "firstCommitSeq": first_seq,
        "throughCommitSeq": through_seq,
        "records": len(records),
        "actors": actors,
        "sha256": hashlib.sha256(body).hexdigest(),
        "objectSha256": hashlib.sha256(blob).hexdigest(),
        "treeTopic": tree.topic if tree else None,
        "treeSize": tree.size if tree else None,
        "rootHash": tree.root if tree else None,
        "leaves": [list(leaf) for leaf in tree.leaves] if tree else None,
    }
    return blob, manifest


def decode(blob: bytes, manifest: dict[str, Any]) -> list[Record]:
    """The object's records, after checking both hashes and the counts against its manifest."""
    if hashlib.sha256(blob).hexdigest() != manifest.get("objectSha256"):
        raise ValueError("object SHA-256 differs from its manifest")
    body = gzip.decompress(blob)
    if hashlib.sha256(body).hexdigest() != manifest.get("sha256"):
        raise ValueError("NDJSON SHA-256 differs from its manifest")
    records: list[Record] = [orjson.loads(line) for line in body.splitlines() if line]
    if len(records) != manifest.get("records"):
        raise ValueError(f"{len(records)} records, manifest says {manifest.get('records')}")
    return records
