"""`argus tlog-backfill`: build the Merkle tree of partitions whose records were stored without one.

Records stored before the transparency log existed (or while ARGUS_TRANSPARENCY was false) have
no tree, and the processor refuses to extend such a partition (it fails closed: records but no
tree, docs/transparency.md section 6). This builds each such partition's tree from its records
in offset order, exactly as the processor would have (same leaves, tiles and head), and signs a
checkpoint of it with the log key, in one transaction per partition; the processor then resumes
on its next retry. A partition that has a tree, or checkpoints, is left alone.

The tree vouches for the records as they are now: run `argus verify` (chains, signatures) first.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select

from argus.db.schema import audit_records, checkpoints, merkle_tiles, merkle_trees
from argus.tlog.store import TreeWrite, write_trees
from argus_spec.note import Signer
from argus_spec.tiles import TileTree
from argus_spec.tlog import Checkpoint, origin, partition_leaves

CHUNK = 50_000  # records read (and tiles written) at a time: memory stays bounded


def _untreed(connection: Connection, topic: str | None) -> list[tuple[str, int]]:
    """(topic, partition) that hold records but have no tree head."""
    r = audit_records.c
    query = select(r.kafka_topic, r.kafka_partition).distinct()
    if topic is not None:
        query = query.where(r.kafka_topic == topic)
    have = {(row[0], row[1]) for row in connection.execute(query)}
    heads = select(merkle_trees.c.topic, merkle_trees.c.kafka_partition)
    treed = {(row[0], row[1]) for row in connection.execute(heads)}
    return sorted(have - treed)


def backfill_partition(connection: Connection, topic: str, partition: int, log_name: str,
                       signer: Signer | None) -> dict[str, Any]:  # fmt: skip
    """Build and store one partition's tree (inside the caller's transaction); what was written."""
    c = checkpoints.c
    if connection.execute(select(c.tree_size).where(c.topic == topic, c.kafka_partition == partition)).first():
        raise ValueError(f"{topic}/{partition} has checkpoints but no tree: restore the tree, do not rebuild it")
    tiles = merkle_tiles.c
    if connection.execute(select(tiles.level).where(tiles.topic == topic, tiles.kafka_partition == partition)).first():
        raise ValueError(f"{topic}/{partition} has tiles but no tree head: restore the tree, do not rebuild it")
    r = audit_records.c
    tree, leaf = TileTree(), partition_leaves(topic, partition)
    last_offset, commit_seq = -1, 0
    while True:
        rows = connection.execute(
            select(r.kafka_offset, r.commit_seq, r.current_hash)
            .where(r.kafka_topic == topic, r.kafka_partition == partition, r.kafka_offset > last_offset)
            .order_by(r.kafka_offset)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        changed = tree.append([leaf(offset, seq, current_hash) for offset, seq, current_hash in rows])
        last_offset, commit_seq = rows[-1][0], max(commit_seq, max(row[1] for row in rows))
        write_trees(connection, [TreeWrite(topic, partition, commit_seq, tree.size, tree.root(), changed, None)])
    root = tree.root()
    note = signer.sign(Checkpoint(origin(log_name, topic, partition), tree.size, root).text()) if signer else None
    if note is not None:  # the head is written; the checkpoint row goes with it
        write_trees(connection, [TreeWrite(topic, partition, commit_seq, tree.size, root, {}, note)])
    return {"topic": topic, "partition": partition, "treeSize": tree.size, "rootHash": root.hex(),
            "checkpoint": note}  # fmt: skip


def backfill(engine: Engine, topic: str | None, log_name: str, signer: Signer | None) -> list[dict[str, Any]]:
    """Every partition with records but no tree, one transaction each."""
    with engine.connect() as connection:
        wanted = _untreed(connection, topic)
    done = []
    for name, partition in wanted:
        with engine.begin() as connection:
            done.append(backfill_partition(connection, name, partition, log_name, signer))
    return done


def run(args: argparse.Namespace) -> int:
    from argus.audit.export import make_db_engine
    from processor.tlog import load_signer

    try:
        signer = load_signer(args.log_key)
        if signer is None and not args.unsigned:
            raise ValueError("no log key: pass --log-key (or set ARGUS_LOG_KEY), or --unsigned for trees alone")
        engine = make_db_engine(args.database_url)
        try:
            done = backfill(engine, args.topic, args.log_name, signer)
        finally:
            engine.dispose()
    except Exception as exc:  # a CLI: report, don't trace
        print(f"argus tlog-backfill: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(orjson.dumps({"partitions": done}).decode())
    else:
        for item in done:
            print(f"{item['topic']}/{item['partition']}: tree of {item['treeSize']:,} leaves, root {item['rootHash']}"
                  + ("" if item["checkpoint"] else " (unsigned)"))  # fmt: skip
        print(f"argus tlog-backfill: {len(done)} partition(s) built")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("tlog-backfill", help="build the Merkle trees of records stored without one",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("ARGUS_DATABASE_URL"),
                        help="SQLAlchemy URL (default: $ARGUS_DATABASE_URL)")  # fmt: skip
    parser.add_argument("--topic", help="only this Kafka topic's partitions (default: all)")
    parser.add_argument("--log-key", default=os.environ.get("ARGUS_LOG_KEY"), metavar="FILE",
                        help="the log's signer key file, as the processor reads it (default: $ARGUS_LOG_KEY)")
    parser.add_argument("--log-name", default=os.environ.get("ARGUS_LOG_NAME", "argus.local"),
                        help="the log name of checkpoint origins (default: $ARGUS_LOG_NAME)")  # fmt: skip
    parser.add_argument("--unsigned", action="store_true", help="build the trees without a log key (no checkpoint)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
