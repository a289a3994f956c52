"""The verifiable log through the real pipeline: per-partition Merkle trees and signed checkpoints
committed with the records, `argus verify --checkpoint`, and the processor refusing to extend a
store that no longer matches its checkpoint (docs/transparency.md)."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import text

from argus import schemas
from argus.db.engine import make_engine
from argus_commands.main import main as argus_main
from argus_spec.merkle import CompactRange
from argus_spec.note import Verifier
from argus_spec.tlog import open_checkpoint, origin, record_leaf
from bench import free_port
from tests.integration.harness import LOG_NAME, LOG_VERIFIER_KEY, Stack, make_event, wait_for

EVENTS = 240


def build_store(stack: Stack, count: int = EVENTS, actors: int = 12) -> None:
    """Events straight to Kafka, stored by one real processor."""
    stack.produce_envelopes([make_event(f"svc-{i % actors:02d}", i) for i in range(count)])
    wait_for(lambda: stack.stored_count() == count, 120, lambda: f"{count} stored\n{stack.logs()}")


def latest_notes(stack: Stack, path: Path) -> Path:
    """The store's newest checkpoint of each partition, saved as an auditor would keep them."""
    rows = stack.query(
        "SELECT c.note FROM checkpoints c JOIN (SELECT kafka_partition, max(tree_size) AS s FROM checkpoints "
        "GROUP BY kafka_partition) m ON c.kafka_partition = m.kafka_partition AND c.tree_size = m.s"
    )
    path.write_text("".join(row.note for row in rows), encoding="utf-8")
    return path


def tamper(db_url: str, *statements: str, **params: object) -> None:
    """Change the store as an insider with write access would (committed)."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement), params)
    finally:
        engine.dispose()


def run_verify(stack: Stack, checkpoint: Path | str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = argus_main(["verify", "--database-url", stack.db_url, "--checkpoint", str(checkpoint),
                       "--log-key", LOG_VERIFIER_KEY])  # fmt: skip
    return code, capsys.readouterr().out


def tlog_refusals(port: int) -> float:
    """How often the processor on metrics `port` refused to extend a partition whose stored tree
    disagrees with its records (argus_tlog_mismatches_total, all partitions); 0 while it is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("argus_tlog_mismatches_total{"))  # fmt: skip


def export_and_verify(stack: Stack, export: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str],
                      *, fresh: bool = True) -> tuple[int, str]:  # fmt: skip
    """`argus export --log-positions` (unless `fresh` is False), then `argus verify --from-file` against checkpoints."""
    if fresh:
        assert argus_main(["export", "--database-url", stack.db_url, "--log-positions", "-q", "-o", str(export)]) == 0
    capsys.readouterr()
    code = argus_main(["verify", "--from-file", str(export), "--checkpoint", str(checkpoint),
                       "--log-key", LOG_VERIFIER_KEY])  # fmt: skip
    return code, capsys.readouterr().out


def test_trees_and_checkpoints_match_the_records(stack: Stack, tmp_path: Path) -> None:
    stack.start_processor()
    build_store(stack)
    verifier = Verifier.parse(LOG_VERIFIER_KEY)
    total = 0
    for partition in range(stack.partitions):
        rows = stack.query(
            "SELECT kafka_offset, commit_seq, current_hash FROM audit_records WHERE kafka_partition = :p "
            "ORDER BY kafka_offset",
            p=partition,
        )
        tree = CompactRange()
        for row in rows:
            tree.append(record_leaf(stack.topic, partition, row.kafka_offset, row.commit_seq, row.current_hash))
        head = stack.query("SELECT tree_size, root_hash FROM merkle_trees WHERE kafka_partition = :p", p=partition)
        assert [(h.tree_size, h.root_hash) for h in head] == ([(len(rows), tree.root().hex())] if rows else [])
        signed = stack.query("SELECT tree_size, note FROM checkpoints WHERE kafka_partition = :p "
                            "ORDER BY tree_size", p=partition)  # fmt: skip
        for note in signed:
            checkpoint = open_checkpoint(note.note, [verifier])
            assert checkpoint.origin == origin(LOG_NAME, stack.topic, partition)
            assert checkpoint.size == note.tree_size
        if rows:
            assert checkpoint.size == len(rows) and checkpoint.root == tree.root()
        total += len(rows)
    assert total == EVENTS
    notes = {r.note for r in stack.query("SELECT note FROM checkpoints")}
    published = stack.topic_messages(stack.checkpoints_topic, len(notes))
    assert {m.value().decode() for m in published} == notes
    schema = Draft202012Validator(schemas.load(schemas.CHECKPOINT_MESSAGE))  # the published schema
    for message in published:
        schema.validate({"key": message.key().decode(), "value": message.value().decode()})
        assert message.key().decode() == message.value().decode().split("\n", 1)[0]


def test_verify_against_checkpoints_and_processor_fails_closed(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    stack.extra_env["ARGUS_PROCESSOR_METRICS_PORT"] = str(port)
    stack.start_processor()
    build_store(stack)
    anchors = latest_notes(stack, tmp_path / "checkpoints.txt")
    code, out = run_verify(stack, anchors, capsys)
    assert code == 0, out
    # The same check against every checkpoint the processor published to the checkpoints topic.
    monkeypatch.setenv("ARGUS_KAFKA_BOOTSTRAP", stack.kafka)
    notes = stack.query("SELECT count(*) FROM checkpoints")[0][0]
    published = stack.topic_messages(stack.checkpoints_topic, notes, timeout=60)  # at least once, after commit
    assert len(published) == notes
    topic = f"kafka:{stack.checkpoints_topic}"
    code, out = run_verify(stack, topic, capsys)
    checked = re.search(r"partition\(s\) against (\d+) signed", out)
    assert code == 0 and checked and int(checked[1]) >= notes, out  # a note may be published twice
    # And an export with leaf positions, checked offline against the same checkpoints.
    export = tmp_path / "trail.ndjson"
    code, out = export_and_verify(stack, export, anchors, capsys)
    assert code == 0 and "transparency log: OK" in out, out

    # Truncate one actor (its newest record), as an insider with database access could.
    victim = stack.query("SELECT id, kafka_partition, kafka_offset FROM audit_records WHERE actor_id = 'svc-03' "
                         "ORDER BY seq DESC LIMIT 1")[0]  # fmt: skip
    leaf = stack.query("SELECT count(*) FROM audit_records WHERE kafka_partition = :p AND kafka_offset < :o",
                       p=victim.kafka_partition, o=victim.kafka_offset)[0][0]  # fmt: skip
    tamper(stack.db_url, "DELETE FROM audit_records WHERE id = :id", id=victim.id)
    for source in (anchors, topic):
        code, out = run_verify(stack, source, capsys)
        assert code == 1, out
        assert f"partition {victim.kafka_partition} leaf {leaf}:" in out
    code, out = run_verify(stack, "kafka:argus.no-such-topic", capsys)
    assert code == 2, out
    # The export taken before the deletion still verifies; one taken after does not, nor an edited copy.
    assert export_and_verify(stack, export, anchors, capsys, fresh=False)[0] == 0
    code, out = export_and_verify(stack, tmp_path / "after.ndjson", anchors, capsys)
    assert code == 1 and f"partition {victim.kafka_partition}" in out, out
    lines = export.read_text().splitlines()
    edited = json.loads(lines[0]) | {"kafkaOffset": json.loads(lines[0])["kafkaOffset"] + 1}  # moved, hash intact
    (tmp_path / "edited.ndjson").write_text("\n".join([json.dumps(edited), *lines[1:]]) + "\n")
    code, out = export_and_verify(stack, tmp_path / "edited.ndjson", anchors, capsys, fresh=False)
    assert code == 1 and "diverged" in out, out
    plain = tmp_path / "plain.ndjson"
    assert argus_main(["export", "--database-url", stack.db_url, "-q", "-o", str(plain)]) == 0
    assert export_and_verify(stack, plain, anchors, capsys, fresh=False)[0] == 2  # no positions: cannot check

    # The processor refuses to extend that partition: the next event for svc-03 is not chained.
    stack.stop_all()
    stack.start_processor()
    before = stack.stored_count()
    stack.produce_envelopes([make_event("svc-03", 10_000)])

    wait_for(lambda: tlog_refusals(port) > 0, 90, lambda: f"a refusal\n{stack.logs()}")
    assert stack.stored_count() == before
    assert stack.query("SELECT max(seq) FROM audit_records WHERE actor_id = 'svc-03'")[0][0] is not None


async def test_api_serves_checkpoints_and_proofs_that_verify_offline_and_in_go(
    stack: Stack, tmp_path: Path
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from argus.runtime.settings import load_settings
    from argus_client.log_client import LogClient
    from argus_spec.proofs import verify_consistency_answer, verify_record_proof
    from ingest_gateway.app import init
    from tests.integration.harness import TOKEN
    from tests.unit.test_go_interop import run_interop

    stack.start_processor()
    build_store(stack, count=60)
    stack.produce_envelopes([make_event(f"svc-{i % 12:02d}", 100 + i) for i in range(300)])  # more commits
    wait_for(lambda: stack.stored_count() == 360, 120, lambda: f"360 stored\n{stack.logs()}")
    verifiers = [Verifier.parse(LOG_VERIFIER_KEY)]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client = TestClient(TestServer(init(load_settings(stack.settings_env()))))
    await client.start_server()
    notes: list[dict[str, Any]] = []
    inclusions: list[dict[str, Any]] = []
    consistencies: list[dict[str, Any]] = []
    try:
        latest = await (await client.get("/api/checkpoints", headers=auth)).json()
        assert sorted(c["partition"] for c in latest["checkpoints"]) == list(range(stack.partitions))
        assert sum(c["treeSize"] for c in latest["checkpoints"]) == 360
        records = (await (await client.get("/api/audit-logs?limit=1000", headers=auth)).json())["logs"]
        for record in records[::7]:
            answer = await client.get(f"/api/audit-logs/{record['id']}/proof", headers=auth)
            assert answer.status == 200, await answer.text()
            proof = await answer.json()
            checkpoint = verify_record_proof(record, proof, verifiers)
            assert checkpoint.size == proof["treeSize"]
            inclusions.append({"index": proof["leafIndex"], "size": proof["treeSize"], "path": proof["inclusionPath"],
                               "leafHash": proof["leafHash"], "root": checkpoint.root.hex(),
                               "origin": checkpoint.origin})  # fmt: skip
            notes.append({"size": proof["treeSize"], "note": proof["checkpoint"]["note"]})
        for partition in range(stack.partitions):
            answer = await client.get(f"/api/checkpoints?partition={partition}&limit=1000", headers=auth)
            history = await answer.json()
            sizes = [c["treeSize"] for c in history["checkpoints"]]
            assert sizes == sorted(sizes) and len(sizes) >= 2
            for first in (0, sizes[0], sizes[len(sizes) // 2]):
                answer = await client.get(
                    f"/api/checkpoints/consistency?partition={partition}&first={first}", headers=auth
                )
                assert answer.status == 200, await answer.text()
                proof = await answer.json()
                newer = verify_consistency_answer(proof, verifiers)
                assert newer.size == sizes[-1]
                if first:
                    older = proof["firstCheckpoint"]
                    consistencies.append({"first": first, "second": newer.size, "proof": proof["proof"],
                                          "firstRoot": older["rootHash"], "secondRoot": newer.root.hex(),
                                          "origin": newer.origin})  # fmt: skip
                    notes.append({"size": first, "note": older["note"]})
                    notes.append({"size": newer.size, "note": proof["secondCheckpoint"]["note"]})
        # Errors name the parameter.
        bad = await client.get(f"/api/audit-logs/{records[0]['id']}/proof?treeSize=abc", headers=auth)
        assert bad.status == 400 and (await bad.json())["field"] == "treeSize"
        missing = await client.get("/api/checkpoints/consistency?partition=0&first=1&second=999999", headers=auth)
        assert missing.status == 404 and (await missing.json())["field"] == "second"
        # The SDK returns the same answers.
        sdk = LogClient(str(client.make_url("")), TOKEN)
        proof = await asyncio.to_thread(sdk.inclusion_proof, records[0]["id"])
        verify_record_proof(records[0], proof, verifiers)
        assert (await asyncio.to_thread(sdk.checkpoints))["checkpoints"] == latest["checkpoints"]
    finally:
        await client.close()
    claims_file = tmp_path / "claims.json"
    claims = {"logVerifierKey": LOG_VERIFIER_KEY, "checkpoints": notes, "inclusion": inclusions,
              "consistency": consistencies}  # fmt: skip
    claims_file.write_text(json.dumps(claims))
    result = run_interop(claims_file)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_tiles_served_over_http_rebuild_every_checkpoint_root(stack: Stack) -> None:
    """The C2SP tlog-tiles endpoints: a client that trusts only the log key rebuilds each signed
    root of a partition from the served tiles (full, partial and level-1 tiles), and the served
    level-0 hashes are the records' leaves; errors name the parameter."""
    from aiohttp.test_utils import TestClient, TestServer

    from argus.runtime.settings import load_settings
    from argus_client.log_client import LogClient
    from argus_spec.merkle import root_hash
    from argus_spec.tiles import tile_node_source
    from ingest_gateway.app import init
    from tests.integration.harness import TOKEN
    from tests.integration.test_query_api import Api

    stack.start_processor()
    build_store(stack, count=280, actors=1)  # one actor: one partition, past the first full tile
    stack.produce_envelopes([make_event("svc-00", 280 + i) for i in range(20)])  # a later batch: a 2nd checkpoint
    wait_for(lambda: stack.stored_count() == 300, 120, lambda: f"300 stored\n{stack.logs()}")
    (partition,) = {row[0] for row in stack.query("SELECT kafka_partition FROM audit_records")}
    empty = next(p for p in range(stack.partitions) if p != partition)
    verifiers = [Verifier.parse(LOG_VERIFIER_KEY)]
    client = TestClient(TestServer(init(load_settings(stack.settings_env()))))
    await client.start_server()
    api, prefix = Api(client), f"/api/tlog/{stack.topic}/{partition}"
    try:
        sdk = LogClient(str(client.make_url("")), TOKEN)
        checkpoint = open_checkpoint(await asyncio.to_thread(sdk.log_checkpoint, stack.topic, partition), verifiers)
        assert (checkpoint.origin, checkpoint.size) == (origin(LOG_NAME, stack.topic, partition), 300)
        history = (await asyncio.to_thread(sdk.checkpoints, partition, topic=stack.topic, limit=1000))["checkpoints"]
        assert len(history) >= 2 and history[-1]["treeSize"] == 300
        for stored in history:  # each signed size, from tiles of the widths that tree had
            signed = open_checkpoint(stored["note"], verifiers)
            reader = sdk.tile_reader(stack.topic, partition, signed.size)
            assert await asyncio.to_thread(root_hash, tile_node_source(reader), signed.size) == signed.root

        rows = stack.query(
            "SELECT kafka_offset, commit_seq, current_hash FROM audit_records WHERE kafka_partition = :p "
            "ORDER BY kafka_offset", p=partition,
        )  # fmt: skip
        leaves = b"".join(record_leaf(stack.topic, partition, *row) for row in rows)
        status, full = await api.call("GET", f"{prefix}/tile/0/000", token=TOKEN)
        status2, partial = await api.call("GET", f"{prefix}/tile/0/001.p/44", token=TOKEN)
        assert (status, status2) == (200, 200) and full + partial == leaves
        status, narrower = await api.call("GET", f"{prefix}/tile/0/001.p/3", token=TOKEN)
        assert status == 200 and narrower == leaves[256 * 32 : 259 * 32]
        answer = await client.get(f"{prefix}/tile/1/000.p/1", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status == 200 and "immutable" in answer.headers["Cache-Control"]
        assert len(await answer.read()) == 32

        for path in ("tile/0/001", "tile/0/001.p/45", "tile/0/002.p/1", "tile/2/000.p/1"):  # not (yet) in the tree
            status, body = await api.call("GET", f"{prefix}/{path}", token=TOKEN)
            assert (status, body["field"]) == (404, "tile"), path
        for path in ("tile/0/1", "tile/0/x000/001", "tile/0/000.p/256", "tile/00/000", "tile/64/000"):
            status, body = await api.call("GET", f"{prefix}/{path}", token=TOKEN)
            assert (status, body["field"]) == (400, "tile"), path
        status, body = await api.call("GET", f"/api/tlog/{stack.topic}/x/tile/0/000", token=TOKEN)
        assert (status, body["field"]) == (400, "partition")
        assert (await api.call("GET", f"/api/tlog/{stack.topic}/{empty}/checkpoint", token=TOKEN))[0] == 404
        assert (await api.call("GET", f"{prefix}/tile/0/000", token=None))[0] == 401
    finally:
        await client.close()


def test_backfill_builds_the_tree_of_a_store_without_one(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store whose tree tables were emptied (as one written before the log existed): the processor
    refuses to extend it, `argus tlog-backfill` rebuilds exactly the trees that were signed, and the
    processor then resumes by itself; the old checkpoints and the new ones verify against it."""
    from tests.integration.harness import LOG_KEY_FILE

    port = free_port()
    stack.extra_env["ARGUS_PROCESSOR_METRICS_PORT"] = str(port)
    stack.start_processor()
    build_store(stack)
    anchors = latest_notes(stack, tmp_path / "before.txt")
    heads = {(r.kafka_partition, r.tree_size, r.root_hash) for r in stack.query("SELECT * FROM merkle_trees")}
    stack.stop_all()
    tamper(stack.db_url, "DELETE FROM checkpoint_cosignatures", "DELETE FROM checkpoints", "DELETE FROM merkle_tiles",
           "DELETE FROM merkle_trees")  # fmt: skip

    stack.start_processor()  # no tree under stored records: it must not chain onto them
    stack.produce_envelopes([make_event(f"svc-{i % 12:02d}", 5000 + i) for i in range(24)])

    wait_for(lambda: tlog_refusals(port) > 0, 90, lambda: f"a refusal\n{stack.logs()}")
    assert stack.stored_count() == EVENTS

    capsys.readouterr()
    command = ["tlog-backfill", "--database-url", stack.db_url, "--log-key", str(LOG_KEY_FILE),
               "--log-name", LOG_NAME, "--json"]  # fmt: skip
    assert argus_main(command) == 0
    built = json.loads(capsys.readouterr().out)["partitions"]
    assert {(p["partition"], p["treeSize"], p["rootHash"]) for p in built} == heads  # the trees that were signed
    for item in built:
        checkpoint = open_checkpoint(item["checkpoint"], [Verifier.parse(LOG_VERIFIER_KEY)])
        assert (checkpoint.origin, checkpoint.size) == (origin(LOG_NAME, stack.topic, item["partition"]),
                                                        item["treeSize"])  # fmt: skip

    wait_for(lambda: stack.stored_count() == EVENTS + 24, 120, lambda: f"resumed\n{stack.logs()}")
    for notes in (anchors, latest_notes(stack, tmp_path / "after.txt")):
        code, out = run_verify(stack, notes, capsys)
        assert code == 0, out
    assert argus_main(command) == 0  # nothing left to build
    assert json.loads(capsys.readouterr().out)["partitions"] == []
