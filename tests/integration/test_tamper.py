"""Tampering an insider with write access to the database could try, against stores built through
the real pipeline (Kafka -> processor -> PostgreSQL / SQLite). Given the latest checkpoints (kept
outside the database), `argus verify --checkpoint` must detect every case and pinpoint it: the
partition and the first leaf where the store parts from the signed tree (docs/transparency.md).
Record-level cases (stripped signatures, moved event_time, a forgery inserted mid-chain, a deletion
at a time window's start) must also be pinned on the culprit record by the record checks alone,
with the key registry's mustSign policy (docs/hash-chain.md 4, docs/signatures.md).

One store per backend is built per module; each case tampers a fresh copy of it.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Connection, text

from argus.db import migrate
from argus.db.engine import make_engine
from argus.db.private_schema import private_schema
from argus.runtime.settings import load_settings
from argus_client.signing import PemSigner, sign_event
from argus_commands.main import main as argus_main
from argus_spec.hashchain import record_hash
from ingest_gateway.app import init
from tests.integration.harness import (
    LOG_VERIFIER_KEY,
    RECEIPT_VERIFIER_KEY,
    TOKEN,
    Stack,
    as_record,
    make_event,
    running_stack,
    wait_for,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
TABLES = ("audit_records", "partition_commits", "dead_letters", "merkle_tiles", "merkle_trees", "checkpoints",
          "sink_progress", "alembic_version")  # fmt: skip
EVENTS, ACTORS, SIGNED_EVERY = 160, 8, 5
RECEIPTED = 16  # a third round, sent through the real gateway: the client keeps their receipts
BASE = datetime(2026, 3, 4, tzinfo=UTC)  # event i happens at BASE + i minutes
MUST_SIGN = "actor-0"  # every event of this actor is signed, and the key registry's policy says it must be


def _at(minute: int) -> str:
    return (BASE + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Store:
    """A pipeline-built store, its saved checkpoints and how to copy it."""

    backend: str
    url: str
    admin_url: str | None  # PostgreSQL: the database the schemas live in
    schema: str | None
    anchors: Path
    tmp: Path
    keys: str  # the key registry, with the mustSign policy
    copies: ExitStack | None = None  # PostgreSQL: the copies' schemas, dropped with the store

    @property
    def receipts(self) -> Path:
        """The receipts the gateway signed for the third round (docs/receipts.md)."""
        return self.tmp / "receipts.ndjson"

    def copy(self) -> str:
        """A fresh copy of the store (tables, rows, constraints) for one case."""
        if self.backend == "sqlite":
            target = self.tmp / f"copy-{uuid.uuid4().hex[:8]}.db"
            source = Path(self.url.removeprefix("sqlite:///"))
            shutil.copy(source, target)
            for suffix in ("-wal", "-shm"):
                if Path(f"{source}{suffix}").exists():
                    shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
            return f"sqlite:///{target}"
        assert self.admin_url is not None and self.copies is not None
        return self.copies.enter_context(private_schema(self.admin_url, "c", setup=self._copy_tables)).url

    def _copy_tables(self, url: str) -> None:
        """Fill a private schema (`url`'s search_path) with the store's tables and rows."""
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                for table in TABLES:
                    connection.execute(text(f'CREATE TABLE {table} (LIKE "{self.schema}".{table} INCLUDING ALL)'))
                    connection.execute(text(f'INSERT INTO {table} SELECT * FROM "{self.schema}".{table}'))
        finally:
            engine.dispose()


def _keys_file(tmp: Path) -> Path:
    path = tmp / "keys.yaml"
    path.write_text(f"keys:\n  - id: ed-2026\n    pemFile: {VECTORS / 'signatures' / 'test-ed25519-2026.pem'}\n"
                    f"mustSign:\n  - actorId: {MUST_SIGN}\n")  # fmt: skip
    return path


def _build(kafka: str, url: str, backend: str, tmp: Path, admin_url: str | None = None, schema: str | None = None,
           copies: ExitStack | None = None) -> Store:  # fmt: skip
    signer = PemSigner.from_pem((VECTORS / "signatures" / "test-ed25519-2026.private.pem").read_bytes(), "ed-2026")
    events = []
    for i in range(EVENTS + RECEIPTED):
        event = make_event(f"actor-{i % ACTORS}", i, id=str(uuid.UUID(int=i + 1, version=4)), timestamp=_at(i))
        signed = i % SIGNED_EVERY == 0 or event["actorId"] == MUST_SIGN
        events.append(sign_event(event, signer) if signed else event)
    env = {"ARGUS_KEYS_CONFIG": str(_keys_file(tmp))}
    with running_stack(kafka, url, f"tp{uuid.uuid4().hex[:8]}", tmp, extra_env=env) as stack:
        stack.start_processor()
        half = EVENTS // 2  # two rounds: several commits and checkpoints per partition
        stack.produce_envelopes(events[:half])
        wait_for(lambda: stack.stored_count() == half, 120, lambda: f"{half} stored\n{stack.logs()}")
        stack.produce_envelopes(events[half:EVENTS])
        wait_for(lambda: stack.stored_count() == EVENTS, 120, lambda: f"{EVENTS} stored\n{stack.logs()}")
        receipts = asyncio.run(_send_through_gateway(stack, events[EVENTS:]))
        total = EVENTS + RECEIPTED
        wait_for(lambda: stack.stored_count() == total, 120, lambda: f"{total} stored\n{stack.logs()}")
        stack.stop_all()
        rows = stack.query("SELECT c.note FROM checkpoints c JOIN (SELECT kafka_partition AS p, max(tree_size) AS s "
                           "FROM checkpoints GROUP BY kafka_partition) m ON c.kafka_partition = m.p "
                           "AND c.tree_size = m.s")  # fmt: skip
    anchors = tmp / "anchors.txt"
    anchors.write_text("".join(row.note for row in rows), encoding="utf-8")
    (tmp / "receipts.ndjson").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in receipts))
    return Store(backend, url, admin_url, schema, anchors, tmp, env["ARGUS_KEYS_CONFIG"], copies)


async def _send_through_gateway(stack: Stack, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST the events to the real gateway (in process, on loopback); the receipts it signed."""
    client = TestClient(TestServer(init(load_settings(stack.settings_env()))))
    await client.start_server()
    try:
        response = await client.post("/api/audit-logs/bulk", json=events, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 201, await response.text()
        return [item["receipt"] for item in (await response.json())["succeeded"]]
    finally:
        await client.close()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, kafka_bootstrap: str, database_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:  # fmt: skip
    tmp = tmp_path_factory.mktemp(f"tamper-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'argus.db'}"
        migrate.upgrade(url)
        yield _build(kafka_bootstrap, url, "sqlite", tmp)
        return
    with private_schema(database_url, "t") as schema, ExitStack() as copies:
        yield _build(kafka_bootstrap, schema.url, "postgresql", tmp, database_url, schema.name, copies)


# ---- helpers a case uses to find its victims and say where the damage must be reported ----


def _records(connection: Connection, where: str = "1=1", **params: Any) -> list[Any]:
    return list(connection.execute(text(f"SELECT * FROM audit_records WHERE {where} ORDER BY kafka_partition, "
                                        "kafka_offset"), params))  # fmt: skip


def _leaf(connection: Connection, row: Any) -> tuple[int, int]:
    """(partition, leaf index) of a stored record: its position in its partition's offset order."""
    query = text("SELECT count(*) FROM audit_records WHERE kafka_partition = :p AND kafka_offset < :o")
    index = connection.execute(query, {"p": row.kafka_partition, "o": row.kafka_offset})
    return row.kafka_partition, int(index.scalar_one())


def _rehash_from(connection: Connection, actor: str, seq: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite an actor's chain from `seq` on consistently (each record re-hashed and re-linked), so
    the hash chain alone verifies; `change` edits the first of them."""
    rows = _records(connection, "actor_id = :a AND seq >= :s", a=actor, s=seq)
    rows.sort(key=lambda r: r.seq)
    previous = None
    for row in rows:
        record = as_record(row)
        if previous is None:
            change(record)
        else:
            record["previousHash"] = previous
        record["currentHash"] = record_hash(record)
        connection.execute(text("UPDATE audit_records SET target_id = :t, previous_hash = :p, current_hash = :c, "
                                "seq = :seq WHERE id = :id"),
                           {"t": record["targetId"], "p": record["previousHash"], "c": record["currentHash"],
                            "seq": record["seq"], "id": row.id})  # fmt: skip
        previous = record["currentHash"]


def _drop_constraints(connection: Connection) -> None:
    """Remove every constraint and index of audit_records (the 'fork with dropped constraints' insider)."""
    connection.execute(text("CREATE TABLE loose AS SELECT * FROM audit_records"))
    connection.execute(text("DROP TABLE audit_records"))
    connection.execute(text("ALTER TABLE loose RENAME TO audit_records"))


def _insert(connection: Connection, row: Any, **changes: Any) -> None:
    values = {**row._mapping, **changes}
    columns = ", ".join(values)
    connection.execute(text(f"INSERT INTO audit_records ({columns}) VALUES ({', '.join(':' + c for c in values)})"),
                       values)  # fmt: skip


# ---- the cases: each tampers and returns the (partition, leaf) that must be reported ----

Case = Callable[[Connection], tuple[int, int]]


def in_place_edit(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-1' AND seq = 3")[0]
    c.execute(text("UPDATE audit_records SET target_id = 'doc-forged' WHERE id = :id"), {"id": victim.id})
    return _leaf(c, victim)


def partial_tail_rehash(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-2' AND seq = 6")[0]
    _rehash_from(c, "actor-2", 6, lambda r: r.update(targetId="doc-rewritten"))
    return _leaf(c, victim)


def full_tail_rehash(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-3' AND seq = 1")[0]
    _rehash_from(c, "actor-3", 1, lambda r: r.update(targetId="doc-rewritten"))
    return _leaf(c, victim)


def middle_deletion_renumbered(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-4' AND seq = 5")[0]
    before = _records(c, "actor_id = 'actor-4' AND seq = 4")[0]
    c.execute(text("DELETE FROM audit_records WHERE id = :id"), {"id": victim.id})
    c.execute(text("UPDATE audit_records SET seq = -seq WHERE actor_id = 'actor-4' AND seq > 5"))  # no unique clash
    c.execute(text("UPDATE audit_records SET seq = -seq - 1 WHERE actor_id = 'actor-4' AND seq < 0"))
    _rehash_from(c, "actor-4", 5, lambda r: r.update(previousHash=before.current_hash))
    return _leaf(c, victim)


def truncate_one_actor(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-5' AND seq = (SELECT max(seq) FROM audit_records WHERE "
                         "actor_id = 'actor-5')")[0]  # fmt: skip
    place = _leaf(c, victim)
    c.execute(text("DELETE FROM audit_records WHERE id = :id"), {"id": victim.id})
    return place


def delete_whole_actor(c: Connection) -> tuple[int, int]:
    first = _records(c, "actor_id = 'actor-6'")[0]  # lowest offset of its partition
    place = _leaf(c, first)
    c.execute(text("DELETE FROM audit_records WHERE actor_id = 'actor-6'"))
    return place


def appended_forgery(c: Connection) -> tuple[int, int]:
    head = _records(c, "actor_id = 'actor-7' AND seq = (SELECT max(seq) FROM audit_records WHERE "
                       "actor_id = 'actor-7')")[0]  # fmt: skip
    size = len(_records(c, "kafka_partition = :p", p=head.kafka_partition))
    last_offset = _records(c, "kafka_partition = :p", p=head.kafka_partition)[-1].kafka_offset
    forged = as_record(head)
    forged.update(id=str(uuid.uuid4()), seq=head.seq + 1, previousHash=head.current_hash, targetId="doc-forged")
    forged["currentHash"] = record_hash(forged)
    _insert(c, head, id=forged["id"], seq=forged["seq"], previous_hash=forged["previousHash"],
            current_hash=forged["currentHash"], target_id="doc-forged", kafka_offset=last_offset + 1,
            commit_seq=head.commit_seq + 100)  # fmt: skip
    return head.kafka_partition, size


def truncate_table(c: Connection) -> tuple[int, int]:
    partition = _records(c)[0].kafka_partition
    c.execute(text("DELETE FROM audit_records"))  # TRUNCATE; SQLite spells it this way
    return partition, 0


def swapped_records(c: Connection) -> tuple[int, int]:
    a, b = _records(c, "actor_id = 'actor-1' AND seq IN (2, 4)")
    c.execute(text("UPDATE audit_records SET kafka_offset = -1 WHERE id = :id"), {"id": a.id})
    c.execute(text("UPDATE audit_records SET kafka_offset = :o WHERE id = :id"), {"o": a.kafka_offset, "id": b.id})
    c.execute(text("UPDATE audit_records SET kafka_offset = :o WHERE id = :id"), {"o": b.kafka_offset, "id": a.id})
    return _leaf(c, a if a.kafka_offset < b.kafka_offset else b)


def fork_with_dropped_constraints(c: Connection) -> tuple[int, int]:
    original = _records(c, "actor_id = 'actor-2' AND seq = 3")[0]
    place = _leaf(c, original)
    _drop_constraints(c)
    fork = as_record(original)
    fork.update(id=str(uuid.uuid4()), targetId="doc-fork")
    fork["currentHash"] = record_hash(fork)  # links to seq 2 like the original: a second writer's branch
    _insert(c, original, id=fork["id"], target_id="doc-fork", current_hash=fork["currentHash"])
    partition, index = place  # both rows hold one offset; the verifier orders them by id
    return partition, index if fork["id"] < original.id else index + 1


def signature_swap(c: Connection) -> tuple[int, int]:
    a, b = _records(c, "signature IS NOT NULL")[:2]
    c.execute(text("UPDATE audit_records SET signature = :s WHERE id = :id"), {"s": b.signature, "id": a.id})
    c.execute(text("UPDATE audit_records SET signature = :s WHERE id = :id"), {"s": a.signature, "id": b.id})
    return _leaf(c, a)


def edit_kafka_partition(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-3' AND seq = 2")[0]
    place = _leaf(c, victim)
    c.execute(text("UPDATE audit_records SET kafka_partition = kafka_partition + 100 WHERE id = :id"),
              {"id": victim.id})  # fmt: skip
    return place


def edit_kafka_offset(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-4' AND seq = 2")[0]
    place = _leaf(c, victim)
    c.execute(text("UPDATE audit_records SET kafka_offset = kafka_offset + 1000000 WHERE id = :id"),
              {"id": victim.id})  # fmt: skip
    return place


def edit_commit_seq(c: Connection) -> tuple[int, int]:
    victim = _records(c, "actor_id = 'actor-5' AND seq = 2")[0]
    c.execute(text("UPDATE audit_records SET commit_seq = commit_seq + 1 WHERE id = :id"), {"id": victim.id})
    return _leaf(c, victim)


CASES: dict[str, Case] = {case.__name__: case for case in (
    in_place_edit, partial_tail_rehash, full_tail_rehash, middle_deletion_renumbered, truncate_one_actor,
    delete_whole_actor, appended_forgery, truncate_table, swapped_records, fork_with_dropped_constraints,
    signature_swap, edit_kafka_partition, edit_kafka_offset, edit_commit_seq,
)}  # fmt: skip


def _verify(url: str, anchors: Path, capsys: pytest.CaptureFixture[str], keys: str | None = None,
            *extra: str) -> tuple[int, dict[str, Any]]:  # fmt: skip
    capsys.readouterr()
    receipts = ["--receipts", str(anchors.parent / "receipts.ndjson"), "--receipt-key", RECEIPT_VERIFIER_KEY]
    checkpoint = ["--checkpoint", str(anchors), "--log-key", LOG_VERIFIER_KEY, *receipts] if not extra else []
    code = argus_main(["verify", "--database-url", url, *checkpoint, *(["--keys", keys] if keys else []), "--json",
                       *extra])  # fmt: skip
    out = capsys.readouterr().out
    return code, orjson.loads(out) if out.strip() else {}


def test_untouched_store_verifies(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    url = store.copy()
    code, report = _verify(url, store.anchors, capsys, store.keys)
    assert code == 0, report
    total = sum(p["records"] for p in report["log"]["partitions"])
    assert report["signaturesChecked"] and total == EVENTS + RECEIPTED
    assert report["receipts"] == {"receipts": RECEIPTED, "proven": RECEIPTED, "problems": []}
    code, report = _verify(url, store.anchors, capsys, store.keys, "--from", _at(30), "--to", _at(90))
    assert (code, report["breaks"]) == (0, []), report


@pytest.mark.parametrize("case", CASES)
def test_tampering_is_detected_and_pinpointed(store: Store, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = store.copy()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            partition, leaf = CASES[case](connection)
    finally:
        engine.dispose()
    code, report = _verify(url, store.anchors, capsys, store.keys)
    assert code == 1, report
    found = {(p["partition"], p["leaf"]) for p in report["log"]["problems"] if p["kind"] != "history"}
    assert (partition, leaf) in found, report["log"]["problems"]


# ---- record-level cases: each tampers and returns the verify arguments and the exact findings ----

Finding = tuple[str, int, str]  # (actorId, seq, kind)
RecordCase = Callable[[Connection], tuple[list[str], list[Finding]]]


def _minute_of(actor: int, seq: int) -> int:
    return actor + ACTORS * (seq - 1)


def stripped_signature_tail_rehash(c: Connection) -> tuple[list[str], list[Finding]]:
    """Remove a must-sign actor's signature and re-hash its chain from there: the chain verifies, the policy not."""
    rows = sorted(_records(c, "actor_id = :a AND seq >= 4", a=MUST_SIGN), key=lambda r: r.seq)
    previous = None
    for row in rows:
        record = as_record(row)
        if previous is None:
            record.update(signature=None, signatureAlgorithm=None, publicKeyId=None, signatureFormat=None)
        else:
            record["previousHash"] = previous
        record["currentHash"] = record_hash(record)
        c.execute(text("UPDATE audit_records SET signature = :s, signature_algorithm = :a, public_key_id = :k, "
                       "signature_format = :f, previous_hash = :p, current_hash = :h WHERE id = :id"),
                  {"s": record["signature"], "a": record["signatureAlgorithm"], "k": record["publicKeyId"],
                   "f": record["signatureFormat"], "p": record["previousHash"], "h": record["currentHash"],
                   "id": row.id})  # fmt: skip
        previous = record["currentHash"]
    return [], [(MUST_SIGN, 4, "unsigned")]


def event_time_moved_to_2020(c: Connection) -> tuple[list[str], list[Finding]]:
    """13 records' event_time moved to 2020: out of every time filter, export, search and summary."""
    c.execute(text("UPDATE audit_records SET event_time = :t WHERE actor_id = 'actor-1' AND seq BETWEEN 3 AND 15"),
              {"t": datetime(2020, 1, 1, tzinfo=UTC)})  # fmt: skip
    return [], [("actor-1", seq, "derived_column") for seq in range(3, 16)]


def event_time_moved_seen_by_a_time_scoped_verify(c: Connection) -> tuple[list[str], list[Finding]]:
    """The same, verified for exactly the window the records were moved out of: actor-1 has no record
    left in it by event_time, so only the look at the hashed timestamps finds them."""
    findings = event_time_moved_to_2020(c)[1]
    return ["--from", _at(_minute_of(1, 3)), "--to", _at(_minute_of(1, 15) + 1)], findings


def forgery_inserted_mid_chain(c: Connection) -> tuple[list[str], list[Finding]]:
    """A forged record at actor-2's seq 3 linking to seq 2, the genuine records renumbered one up (the
    insider dropped the constraints that would refuse a second successor of seq 2)."""
    genuine = _records(c, "actor_id = 'actor-2' AND seq = 3")[0]
    last_offset = _records(c, "kafka_partition = :p", p=genuine.kafka_partition)[-1].kafka_offset
    _drop_constraints(c)
    c.execute(text("UPDATE audit_records SET seq = seq + 1 WHERE actor_id = 'actor-2' AND seq >= 3"))
    forged = as_record(genuine)
    forged.update(id=str(uuid.uuid4()), targetId="doc-forged")
    forged["currentHash"] = record_hash(forged)
    _insert(c, genuine, id=forged["id"], target_id="doc-forged", current_hash=forged["currentHash"],
            kafka_offset=last_offset + 1)  # fmt: skip
    return [], [("actor-2", 3, "inserted")]


def deletion_at_window_start(c: Connection) -> tuple[list[str], list[Finding]]:
    """The first record of a time window deleted: the window's own selection no longer holds it."""
    minute = _minute_of(3, 5)  # the window starts with actor-3's seq 5
    c.execute(text("DELETE FROM audit_records WHERE actor_id = 'actor-3' AND seq = 5"))
    return ["--from", _at(minute), "--to", _at(minute + 25)], [("actor-3", 5, "missing")]


RECORD_CASES: dict[str, RecordCase] = {case.__name__: case for case in (
    stripped_signature_tail_rehash, event_time_moved_to_2020, event_time_moved_seen_by_a_time_scoped_verify,
    forgery_inserted_mid_chain, deletion_at_window_start,
)}  # fmt: skip


@pytest.mark.parametrize("case", RECORD_CASES)
def test_record_tampering_is_pinned_on_the_culprit(store: Store, case: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    url = store.copy()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            scope, expected = RECORD_CASES[case](connection)
    finally:
        engine.dispose()
    code, report = _verify(url, store.anchors, capsys, store.keys, *scope)
    assert code == 1, report
    assert [(b["actorId"], b["seq"], b["kind"]) for b in report["breaks"]] == expected, report["breaks"]


# ---- receipts: the client's own evidence (docs/receipts.md) ----


def _receipts(store: Store) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in store.receipts.read_text().splitlines()]


def _tamper(store: Store, change: Callable[[Connection], None]) -> str:
    url = store.copy()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            change(connection)
    finally:
        engine.dispose()
    return url


def test_a_receipted_event_deleted_from_the_database_is_reported_with_its_receipt(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """The insider deletes a receipted event and re-links its actor's chain, so the chain verifies."""
    receipt = _receipts(store)[5]

    def delete(c: Connection) -> None:
        victim = _records(c, "id = :id", id=receipt["id"])[0]
        later = _records(c, "actor_id = :a AND seq > :s", a=victim.actor_id, s=victim.seq)
        c.execute(text("DELETE FROM audit_records WHERE id = :id"), {"id": victim.id})
        if later:
            _rehash_from(c, victim.actor_id, later[0].seq, lambda r: r.update(previousHash=victim.previous_hash))

    code, report = _verify(_tamper(store, delete), store.anchors, capsys, store.keys)
    assert code == 1, report
    problems = report["receipts"]["problems"]
    assert [(p["id"], p["receipt"]) for p in problems if p["kind"] == "missing"] == [(receipt["id"], receipt)]
    # Re-linking the tail changed later records' hashes: receipted ones among them are not in the tree.
    assert {p["kind"] for p in problems} <= {"missing", "not_included"}


def test_a_receipted_event_given_another_source_is_reported(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """The insider rewrites a receipted record's `source` (and re-hashes its chain tail to match)."""
    receipt = _receipts(store)[3]

    def forge(c: Connection) -> None:
        victim = _records(c, "id = :id", id=receipt["id"])[0]
        c.execute(text("UPDATE audit_records SET source = 'someone-else' WHERE id = :id"), {"id": victim.id})
        _rehash_from(c, victim.actor_id, victim.seq, lambda r: None)

    code, report = _verify(_tamper(store, forge), store.anchors, capsys, store.keys)
    assert code == 1, report
    problems = report["receipts"]["problems"]
    assert [p["id"] for p in problems if p["kind"] == "altered"] == [receipt["id"]]
    assert {p["kind"] for p in problems} <= {"altered", "not_included"}
