"""`argus verify --checkpoint`: recompute each partition's Merkle tree from the stored records and
compare it with signed checkpoints kept outside the database (docs/transparency.md, section 5).

This module reads the database and the checkpoint sources; the checking itself is
argus_spec.tlog_verify (pure). Catches what a hash chain cannot: truncation, deleted actors,
an emptied table, appended forgeries and consistent rewrites.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select

from argus.audit.export import COLUMNS, LOG_FIELDS
from argus.audit.records_file import file_records
from argus.db.schema import audit_records
from argus.tlog.store import checkpoint_history, tile_reader
from argus_spec.cosignature import WitnessVerifier, require_cosignatures
from argus_spec.hashchain import record_row
from argus_spec.merkle import HASH_SIZE, root_hash
from argus_spec.note import NoteError, Verifier
from argus_spec.tiles import TILE_HEIGHT, TILE_WIDTH, tile_node_source
from argus_spec.tlog import Checkpoint, open_checkpoint, parse_origin
from argus_spec.tlog_verify import HISTORY, UNCOVERED, LogProblem, PartitionCheck

FETCH_ROWS = 5000
KAFKA_SOURCE = "kafka:"  # `--checkpoint kafka:<topic>`: every note of the checkpoints topic


def load_verifiers(values: Sequence[str]) -> list[Verifier]:
    """Trusted log keys: each a verifier key string (`name+hash+key`) or a file holding one per line."""
    keys: list[Verifier] = []
    for value in values:
        path = Path(value)
        lines = path.read_text(encoding="utf-8").split() if "+" not in value and path.exists() else [value]
        keys += [Verifier.parse(line) for line in lines if line.strip()]
    if not keys:
        raise ValueError("--checkpoint needs the log's public key: pass --log-key")
    return keys


def load_witness_keys(values: Sequence[str]) -> list[WitnessVerifier]:
    """Trusted witness keys: each a verifier key string or a file holding one per line."""
    keys: list[WitnessVerifier] = []
    for value in values:
        path = Path(value)
        lines = path.read_text(encoding="utf-8").split() if "+" not in value and path.exists() else [value]
        keys += [WitnessVerifier.parse(line) for line in lines if line.strip()]
    return keys


def split_notes(text: str) -> list[str]:
    """Signed notes from a text holding one or more of them back to back, or a JSON document
    (`GET /api/checkpoints`) whose objects carry a `note`."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        found: list[str] = []
        _collect_notes(orjson.loads(stripped), found)
        return found
    notes: list[str] = []
    current: list[str] = []
    in_signatures = False
    for line in text.splitlines(keepends=True):
        is_signature = line.startswith("\u2014 ")
        if in_signatures and not is_signature and line.strip():
            notes.append("".join(current))
            current = []
            in_signatures = False
        current.append(line)
        in_signatures = in_signatures or is_signature
    if "".join(current).strip():
        notes.append("".join(current))
    return notes


def _collect_notes(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("note"), str):
            found.append(value["note"])
        for item in value.values():
            if isinstance(item, (dict, list)):
                _collect_notes(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_notes(item, found)


def read_source(source: str, token: str | None) -> str:
    """A checkpoint file, or an http(s) URL (e.g. the gateway's /api/checkpoints)."""
    if source.startswith(("http://", "https://")):
        request = urllib.request.Request(source, headers={"Authorization": f"Bearer {token}"} if token else {})
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
            return body.decode("utf-8")
    return Path(source).read_text(encoding="utf-8")


def topic_notes(topic: str, kafka_config: dict[str, str], timeout: float = 60.0) -> list[str]:
    """Every message of a checkpoints topic (one signed note each), from its start to its end as
    it was when called. Read with plain assignment: no consumer group offsets are committed."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({**kafka_config, "group.id": f"argus-verify-{uuid.uuid4().hex}", "enable.auto.commit": False,
                         "enable.partition.eof": True})  # fmt: skip
    try:
        found = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if found is None or found.error is not None:
            raise ValueError(f"{KAFKA_SOURCE}{topic}: no such topic")
        ends = {}
        for partition in found.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in ends])
        notes: list[str] = []
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise ValueError(f"{KAFKA_SOURCE}{topic}: not read to its end within {timeout:.0f}s")
            message = consumer.poll(1.0)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise ValueError(f"{KAFKA_SOURCE}{topic}: {error}")
                ends.pop(message.partition(), None)  # the end (a transaction marker may take the last offset)
                continue
            offset, partition = message.offset() or 0, message.partition() or 0
            if partition in ends and offset < ends[partition]:
                notes.append((message.value() or b"").decode("utf-8", errors="replace"))
            if partition in ends and offset >= ends[partition] - 1:
                del ends[partition]
        return notes
    finally:
        consumer.close()


def source_notes(source: str, token: str | None, kafka_config: dict[str, str] | None) -> list[str]:
    """The signed notes of one --checkpoint source: a file, a URL or `kafka:<topic>`."""
    if source.startswith(KAFKA_SOURCE):
        if not kafka_config:
            raise ValueError(f"{source}: no Kafka bootstrap servers (set ARGUS_KAFKA_BOOTSTRAP)")
        return topic_notes(source[len(KAFKA_SOURCE) :], kafka_config)
    return split_notes(read_source(source, token))


def trusted_checkpoints(
    sources: Sequence[str],
    verifiers: list[Verifier],
    token: str | None,
    witnesses: Sequence[WitnessVerifier] = (),
    required: int = 0,
    kafka_config: dict[str, str] | None = None,
) -> list[Checkpoint]:
    """Every checkpoint of the sources, each note's signature checked (a bad one is an error), and
    with `required`, cosigned by that many distinct trusted `witnesses`."""
    out = []
    for source in sources:
        notes = source_notes(source, token, kafka_config)
        if not notes:
            raise ValueError(f"{source}: no signed checkpoint found")
        for note in notes:
            try:
                out.append(open_checkpoint(note, verifiers))
            except NoteError as exc:
                raise ValueError(f"{source}: a checkpoint does not verify with the log key: {exc}") from None
            if required:
                try:
                    require_cosignatures(note, list(witnesses), required)
                except NoteError as exc:
                    raise ValueError(f"{source}: checkpoint {out[-1].origin} at size {out[-1].size}: {exc}") from None
    return out


def _partition_rows(connection: Connection, topic: str, partition: int) -> Iterator[tuple[int, int, tuple[Any, ...]]]:
    """(offset, commit_seq, record values) of one partition in offset order, streamed."""
    t = audit_records.c
    stmt = select(t.kafka_offset, t.commit_seq, *COLUMNS).where(t.kafka_topic == topic, t.kafka_partition == partition)
    result = connection.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(
        stmt.order_by(t.kafka_offset, t.id)  # id: a deterministic order even if offsets were duplicated
    )
    for row in result:
        yield row[0], row[1], tuple(row[2:])


def _stored_history(
    connection: Connection, topic: str, partition: int, origin: str, verifiers: list[Verifier]
) -> tuple[list[Checkpoint], list[LogProblem]]:
    good, problems = [], []
    for stored in checkpoint_history(connection, topic, partition):
        try:
            checkpoint = open_checkpoint(stored.note, verifiers)
        except NoteError as exc:
            problems.append(LogProblem(topic, partition, HISTORY, None, f"stored checkpoint {stored.tree_size}: {exc}"))
            continue
        if checkpoint.origin != origin or (checkpoint.size, checkpoint.root.hex()) != (
            stored.tree_size,
            stored.root_hash,
        ):
            problems.append(
                LogProblem(topic, partition, HISTORY, None, f"stored checkpoint row {stored.tree_size} is not its note")
            )
            continue
        good.append(checkpoint)
    return good, problems


def check_partition(
    connection: Connection, topic: str, partition: int, trusted: list[Checkpoint], verifiers: list[Verifier]
) -> tuple[list[LogProblem], int]:
    """Problems of one partition against its trusted checkpoints, and how many records it holds."""
    anchor = max(trusted, key=lambda c: c.size)
    stored, problems = _stored_history(connection, topic, partition, anchor.origin, verifiers)
    read = tile_reader(connection, topic, partition)
    tiles_problem, stored_leaf = None, None
    try:
        authentic = root_hash(tile_node_source(read), anchor.size) == anchor.root
    except ValueError:
        authentic = False
    if authentic:
        stored_leaf = _leaf_reader(read)
    elif anchor.size:
        tiles_problem = f"the stored tiles do not hold the tree of checkpoint {anchor.size}"
    check = PartitionCheck(topic, partition, trusted, stored, stored_leaf, tiles_problem)
    for offset, commit_seq, row in _partition_rows(connection, topic, partition):
        check.feed(offset, commit_seq, row)
    return problems + check.finish(), check.size


def _leaf_reader(read: Any) -> Any:
    """stored leaf i, one level-0 tile read at a time (leaves are asked for in order)."""
    cache: dict[int, bytes] = {}

    def leaf(index: int) -> bytes:
        tile = index >> TILE_HEIGHT
        if tile not in cache:
            cache.clear()
            cache[tile] = read([(0, tile)]).get((0, tile), b"")
        offset = (index % TILE_WIDTH) * HASH_SIZE
        return cache[tile][offset : offset + HASH_SIZE]

    return leaf


def verify_log(engine: Engine, checkpoints: list[Checkpoint], verifiers: list[Verifier]) -> dict[str, Any]:
    """The log part of `argus verify`'s report: per partition, records, anchor size and problems."""
    by_partition = _by_partition(checkpoints)
    partitions, problems = [], []
    with engine.connect() as connection:
        for (topic, partition), trusted in sorted(by_partition.items()):
            found, records = check_partition(connection, topic, partition, trusted, verifiers)
            problems += found
            partitions.append({"topic": topic, "partition": partition, "records": records,
                               "checkpointSize": max(c.size for c in trusted), "ok": not found})  # fmt: skip
    return {"partitions": partitions, "problems": [p.as_dict() for p in problems]}


def _by_partition(checkpoints: list[Checkpoint]) -> dict[tuple[str, int], list[Checkpoint]]:
    found: dict[tuple[str, int], list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        _, topic, partition = parse_origin(checkpoint.origin)
        found.setdefault((topic, partition), []).append(checkpoint)
    return found


def verify_file_log(path: str, checkpoints: list[Checkpoint]) -> dict[str, Any]:
    """`verify_log` for an `argus export --log-positions` file: each checkpointed partition's tree
    rebuilt from the file's records (held in memory per partition, sorted by offset). The file has
    no tiles or stored checkpoints, so a divergence is reported without its exact leaf, and records
    newer than every checkpoint given are a note, not a problem (the file is a snapshot)."""
    wanted = _by_partition(checkpoints)
    rows: dict[tuple[str, int], list[tuple[int, int, tuple[Any, ...]]]] = {key: [] for key in wanted}
    for record in file_records(path):
        position: list[Any] = [record.get(name) for name in LOG_FIELDS]
        if not isinstance(position[0], str) or not all(isinstance(v, int) for v in position[1:]):
            raise ValueError(f"{path}: a record lacks {', '.join(LOG_FIELDS)}: export it with --log-positions")
        topic, partition, offset, commit_seq = position
        if (topic, partition) in rows:
            rows[(topic, partition)].append((offset, commit_seq, record_row(record)))
    partitions, problems, notes = [], [], []
    for (topic, partition), trusted in sorted(wanted.items()):
        check = PartitionCheck(topic, partition, trusted)
        for offset, commit_seq, row in sorted(rows[(topic, partition)], key=lambda item: (item[0], item[2][0])):
            check.feed(offset, commit_seq, row)
        found = check.finish()
        notes += [f"{p.topic}/{p.partition}: {p.detail}" for p in found if p.kind == UNCOVERED]
        found = [p for p in found if p.kind != UNCOVERED]
        problems += found
        partitions.append({"topic": topic, "partition": partition, "records": check.size,
                           "checkpointSize": max(c.size for c in trusted), "ok": not found})  # fmt: skip
    return {"partitions": partitions, "problems": [p.as_dict() for p in problems], "notes": notes}
