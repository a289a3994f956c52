"""`argus verify` against real PostgreSQL: a valid trail passes; each tampering done in SQL is
reported with its exact actor, seq and kind; an export verified from file gives the same result."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Connection, Engine, create_engine, insert, text

from argus.audit import export, verify
from argus.db.private_schema import private_schema
from argus.db.schema import audit_records, metadata
from argus_client.signing import PemSigner, sign_event
from argus_spec.event import EVENT_FIELDS
from argus_spec.hashchain import GENESIS_HASH, chain_record, record_hash

pytestmark = pytest.mark.integration

ACTORS = {"actor-a": 12, "actor-b": 8, "ünï-😀": 5}
BASE = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema_url(database_url: str) -> Iterator[str]:
    """A private PostgreSQL schema for this module (the tables from argus.db.schema)."""
    with private_schema(database_url, "verify", setup=_create_tables) as schema:
        yield schema.url


def _create_tables(url: str) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def make_event(actor: str, seq: int, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
    moment = BASE + timedelta(minutes=seq)
    event.update(id=str(uuid.uuid4()), timestamp=moment.isoformat().replace("+00:00", "Z"), action="UPDATE",
                 status="SUCCESS", actorType="ADMIN", actorId=actor, targetType="RESOURCE", targetId=f"doc-{seq}",
                 message="aGk=", metadata={"seq": seq, "note": "ünïcode ✓"})  # fmt: skip
    event.update(changes)
    return event


def make_record(actor: str, seq: int, previous: str, **changes: Any) -> dict[str, Any]:
    event = make_event(actor, seq, **changes)
    return chain_record(event, source="tests", received_at=event["timestamp"], seq=seq, previous_hash=previous)


_offsets = iter(range(10**9))


def db_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {export.COLUMNS[i].name: value for i, value in enumerate(record.values())}
    offset = next(_offsets)
    event_time = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    row.update(event_time=event_time, kafka_topic="argus.events", kafka_partition=0)
    row.update(kafka_offset=offset, commit_seq=offset)
    return row


@pytest.fixture
def trail(schema_url: str) -> Iterator[tuple[Engine, dict[str, list[dict[str, Any]]]]]:
    """A fresh valid trail of several actors in the module schema."""
    engine = create_engine(schema_url)
    chains: dict[str, list[dict[str, Any]]] = {}
    for actor, count in ACTORS.items():
        previous, chains[actor] = GENESIS_HASH, []
        for seq in range(1, count + 1):
            chains[actor].append(make_record(actor, seq, previous))
            previous = chains[actor][-1]["currentHash"]
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS audit_records"))
        audit_records.create(connection)
        connection.execute(insert(audit_records), [db_row(r) for chain in chains.values() for r in chain])
    yield engine, chains
    engine.dispose()


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    verify.register(subparsers)
    export.register(subparsers)
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr().out
    return code, (orjson.loads(out) if "--json" in argv and out.strip() else {"text": out})


def check(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *scope: str, keys: Path | None = None
) -> list[tuple[str, int, str]]:
    """Verify the database and an export of it; both must agree. Returns (actor, seq, kind) of each break."""
    scope += ("--signatures", "--keys", str(keys)) if keys else ()
    code, report = cli(["verify", "--database-url", url, "--json", *scope], capsys)
    assert code == (0 if report["ok"] else 1)
    assert any("truncation" in note for note in report["notes"])
    path = tmp_path / "export.ndjson"
    assert (
        cli(["export", "--database-url", url, "-o", str(path), *scope[: len(scope) - 3 * bool(keys)]], capsys)[0] == 0
    )
    from_file = cli(["verify", "--from-file", str(path), "--json", *scope], capsys)[1]
    assert from_file["breaks"] == report["breaks"]
    assert (from_file["records"], from_file["actors"]) == (report["records"], report["actors"])
    return [(b["actorId"], b["seq"], b["kind"]) for b in report["breaks"]]


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def test_untouched_trail_verifies(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    assert check(schema_url, tmp_path, capsys) == []
    code, report = cli(["verify", "--database-url", schema_url, "--json"], capsys)
    assert (code, report["ok"], report["records"], report["actors"]) == (0, True, 25, 3)
    code, human = cli(["verify", "--database-url", schema_url], capsys)
    assert code == 0 and "OK" in human["text"] and "truncation" in human["text"]


def test_changed_field_is_modified(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    sql(trail[0], "UPDATE audit_records SET target_id = 'other' WHERE actor_id = 'actor-b' AND seq = 4")
    assert check(schema_url, tmp_path, capsys) == [("actor-b", 4, "modified")]


def test_changed_metadata_text_is_modified(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    same_data_other_text = '{"seq": 2, "note": "ünïcode ✓"}'  # equal as JSON, but not the hashed text
    sql(
        trail[0], "UPDATE audit_records SET metadata = :m WHERE actor_id = 'ünï-😀' AND seq = 2", m=same_data_other_text
    )
    assert check(schema_url, tmp_path, capsys) == [("ünï-😀", 2, "modified")]


def test_deleted_record_is_missing(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    sql(trail[0], "DELETE FROM audit_records WHERE actor_id = 'actor-a' AND seq = 6")
    assert check(schema_url, tmp_path, capsys) == [("actor-a", 6, "missing")]


def test_forged_record_is_inserted(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    engine, _ = trail
    sql(engine, "ALTER TABLE audit_records DROP CONSTRAINT uq_audit_records_actor_id_seq")
    forged = make_record("actor-a", 5, "f" * 64, targetId="forged")  # a careful forger: its own hash verifies
    with engine.begin() as connection:
        connection.execute(insert(audit_records), [db_row(forged)])
    assert check(schema_url, tmp_path, capsys) == [("actor-a", 5, "inserted")]


def test_second_successor_is_forked(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    engine, chains = trail
    sql(engine, "ALTER TABLE audit_records DROP CONSTRAINT uq_audit_records_actor_id_seq")
    fork = make_record("actor-b", 3, chains["actor-b"][1]["currentHash"], targetId="fork")
    with engine.begin() as connection:
        connection.execute(insert(audit_records), [db_row(fork)])
    assert check(schema_url, tmp_path, capsys) == [("actor-b", 3, "forked")]


@pytest.mark.parametrize(("a", "b"), [(4, 5), (3, 9)])
def test_swapped_records_are_reordered(
    trail: Any, schema_url: str, tmp_path: Path, capsys: Any, a: int, b: int
) -> None:
    with trail[0].begin() as connection:
        for old, new in ((a, -1), (b, a), (-1, b)):
            _move(connection, "actor-a", old, new)
    assert check(schema_url, tmp_path, capsys) == [("actor-a", a, "reordered"), ("actor-a", b, "reordered")]


def _move(connection: Connection, actor: str, old: int, new: int) -> None:
    connection.execute(text("UPDATE audit_records SET seq = :new WHERE actor_id = :actor AND seq = :old"),
                       {"actor": actor, "old": old, "new": new})  # fmt: skip


def test_rehashed_record_is_modified(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    engine, chains = trail
    changed = {**chains["actor-a"][6], "targetId": "rewritten"}
    sql(engine, "UPDATE audit_records SET target_id = :t, current_hash = :h WHERE actor_id = 'actor-a' AND seq = 7",
        t="rewritten", h=record_hash(changed))  # fmt: skip
    assert check(schema_url, tmp_path, capsys) == [("actor-a", 7, "modified")]


def test_several_tamperings_are_each_named(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    sql(trail[0], "UPDATE audit_records SET status = 'FAILURE' WHERE actor_id = 'actor-a' AND seq = 2")
    sql(trail[0], "DELETE FROM audit_records WHERE actor_id = 'actor-a' AND seq = 10")
    sql(trail[0], "UPDATE audit_records SET source = NULL WHERE actor_id = 'actor-b' AND seq = 8")
    expected = [("actor-a", 2, "modified"), ("actor-a", 10, "missing"), ("actor-b", 8, "modified")]
    assert check(schema_url, tmp_path, capsys) == expected


def test_actor_and_time_scopes(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    sql(trail[0], "DELETE FROM audit_records WHERE actor_id = 'actor-a' AND seq = 6")
    assert check(schema_url, tmp_path, capsys, "--actor", "actor-b") == []
    assert check(schema_url, tmp_path, capsys, "--actor", "actor-a") == [("actor-a", 6, "missing")]
    window = ["--from", (BASE + timedelta(minutes=8)).isoformat(), "--to", (BASE + timedelta(minutes=11)).isoformat()]
    assert check(schema_url, tmp_path, capsys, *window) == []  # anchored on seq 7, the record before seq 8
    window[1] = (BASE + timedelta(minutes=7)).isoformat()  # the deletion sits right before the window's start
    assert check(schema_url, tmp_path, capsys, *window) == [("actor-a", 6, "missing")]
    window[1] = (BASE + timedelta(minutes=3)).isoformat()
    assert check(schema_url, tmp_path, capsys, *window) == [("actor-a", 6, "missing")]
    _, report = cli(["verify", "--database-url", schema_url, "--json", *window], capsys)
    # seqs 3..10 in range plus the anchor before and the record after each actor's span
    assert report["records"] == (2 + 7 + 1) - 1 + (6 + 1) + (3 + 1) and any("time range" in n for n in report["notes"])


def test_signatures_catch_what_the_chain_cannot(trail: Any, schema_url: str, tmp_path: Path, capsys: Any) -> None:
    engine = trail[0]
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    keys = tmp_path / "keys.yaml"
    keys.write_text(yaml.safe_dump({"keys": [{"id": "k1", "pem": pem.decode()}]}))
    previous, records = GENESIS_HASH, []
    for seq in (1, 2, 3):
        signed = sign_event(make_event("signer", seq), PemSigner(private, "k1"), format="v2")
        records.append(
            chain_record(signed, source="t", received_at=signed["timestamp"], seq=seq, previous_hash=previous)
        )
        previous = records[-1]["currentHash"]
    with engine.begin() as connection:
        connection.execute(insert(audit_records), [db_row(r) for r in records])
    code, report = cli(["verify", "--database-url", schema_url, "--json", "--signatures", "--keys", str(keys)], capsys)
    assert (code, report["breaks"]) == (0, [])
    assert any("25 records carry no signature" in note for note in report["notes"])
    newest = {**records[2], "targetId": "rewritten"}  # the newest record, changed and re-hashed
    sql(engine, "UPDATE audit_records SET target_id = :t, current_hash = :h WHERE actor_id = 'signer' AND seq = 3",
        t="rewritten", h=record_hash(newest))  # fmt: skip
    assert check(schema_url, tmp_path, capsys) == []  # invisible to the chain alone (docs/hash-chain.md, 5)
    assert check(schema_url, tmp_path, capsys, keys=keys) == [("signer", 3, "bad_signature")]


def test_embedded_sqlite_store_verifies_too(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'argus.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    previous, rows = GENESIS_HASH, []
    for seq in range(1, 6):
        rows.append(db_row(make_record("solo", seq, previous)))
        previous = rows[-1]["current_hash"]
    with engine.begin() as connection:
        connection.execute(insert(audit_records), rows)
    assert check(url, tmp_path, capsys) == []
    sql(engine, "UPDATE audit_records SET status = 'FAILURE' WHERE seq = 3")
    assert check(url, tmp_path, capsys) == [("solo", 3, "modified")]
    engine.dispose()


def test_unreachable_database_is_an_error_not_a_pass(capsys: Any) -> None:
    code, _ = cli(["verify", "--database-url", "postgresql+psycopg2://argus:argus@127.0.0.1:1/none", "--json"], capsys)
    assert code == 2


def argus_on_terminal(*argv: str) -> tuple[int, bytes, bytes]:
    """Run the real CLI with stderr on a pseudo-terminal (as a person watching) and stdout piped;
    returns (exit code, stdout, everything drawn on the terminal)."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "argus_commands", *argv], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    drawn, deadline = b"", time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    out = process.stdout.read() if process.stdout else b""
    return process.wait(timeout=60), out, drawn


def argus_piped(*argv: str) -> tuple[int, bytes, bytes]:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "argus_commands", *argv], capture_output=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def without_rate(out: bytes) -> dict[str, Any]:
    """The --json report minus its measured rate (the only field that differs run to run)."""
    report = orjson.loads(out)
    report.pop("rate")
    return report


def test_progress_on_a_terminal_only(trail: Any, schema_url: str) -> None:
    total = sum(ACTORS.values())
    for command in (["verify", "--json"], ["verify"], ["export"]):
        argv = [*command, "--database-url", schema_url]
        code, piped_out, piped_err = argus_piped(*argv)
        assert code == 0 and b"\r" not in piped_err  # piped: no progress drawn
        code, term_out, drawn = argus_on_terminal(*argv)
        assert code == 0
        assert b"\r" in drawn and f" {total} records [".encode() in drawn and b"100%" in drawn
        if "--json" in command:  # stdout is the same report, one line, whatever stderr is
            assert term_out.count(b"\n") == piped_out.count(b"\n") == 1
            assert without_rate(term_out) == without_rate(piped_out)
            assert without_rate(term_out)["records"] == total
        elif command == ["export"]:
            assert term_out == piped_out and term_out.count(b"\n") == total  # NDJSON byte for byte
        code, quiet_out, quiet_drawn = argus_on_terminal(*argv, "--quiet")
        assert code == 0 and b"\r" not in quiet_drawn
        if command == ["export"]:
            assert quiet_drawn == b"" and quiet_out == piped_out
