"""A record's Kafka position includes its topic (issue 11, item 6): a processor reading a new or
renamed topic against a database holding another topic's records stores every event."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from argus.db import migrate
from argus.db.engine import make_engine
from tests.integration.harness import Stack, chain_problems, random_events, running_stack, wait_for


def test_a_second_topic_on_the_same_database_stores_every_event(
    stack: Stack, kafka_bootstrap: str, pg_url: str, unique_name: str, tmp_path: Path
) -> None:
    first = random_events(60, seed=6, actors=5)
    stack.produce_envelopes(first)
    stack.start_processor("first")
    wait_for(lambda: stack.stored_count() == 60, 90, lambda: f"60 stored\n{stack.logs()}")
    stack.stop_all()

    second_dir = tmp_path / "second"
    second_dir.mkdir()
    with running_stack(kafka_bootstrap, pg_url, f"{unique_name}b", second_dir) as renamed:
        second = random_events(60, seed=7, actors=5)  # same offsets 0..n on every partition
        renamed.produce_envelopes(second)
        renamed.start_processor("second")
        wait_for(lambda: renamed.stored_count() == 120, 90, lambda: f"120 stored\n{renamed.logs()}")
        assert renamed.query("SELECT count(*) FROM dead_letters")[0][0] == 0
        by_topic = dict(renamed.query("SELECT kafka_topic, count(*) FROM audit_records GROUP BY kafka_topic"))
        assert by_topic == {stack.topic: 60, renamed.topic: 60}
        assert chain_problems(renamed.records()) == []


RECORD_0003 = (
    "INSERT INTO audit_records (id, actor_id, seq, previous_hash, current_hash, timestamp, event_time, action,"
    " status, actor_type, target_type, received_at, kafka_partition, kafka_offset, commit_seq) VALUES"
    " (:id, 'a', :seq, :prev, :cur, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'CREATE', 'SUCCESS',"
    " 'SERVICE', 'RESOURCE', '2026-01-01T00:00:00Z', 0, :offset, :commit)"
)
COMMIT_0003 = (
    "INSERT INTO partition_commits (topic, kafka_partition, commit_seq, first_offset, last_offset, record_count,"
    " rejected_count) VALUES (:topic, 0, :commit, :offset, :offset, 1, 0)"
)


def _seed_0003(url: str, commits: list[tuple[str, int, int]]) -> None:
    """Rows as a 0003 database holds them: (topic of the commit, commit_seq, offset) each."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for index, (topic, commit, offset) in enumerate(commits):
                ids = {"id": f"00000000-0000-4000-8000-{index:012d}", "seq": index + 1}
                hashes = {"prev": f"{index:064d}", "cur": f"{index + 1:064d}"}
                connection.execute(text(RECORD_0003), {**ids, **hashes, "offset": offset, "commit": commit})
                connection.execute(text(COMMIT_0003), {"topic": topic, "commit": commit, "offset": offset})
    finally:
        engine.dispose()


def _topics(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT kafka_topic FROM audit_records ORDER BY id"))]
    finally:
        engine.dispose()


def test_migration_0004_backfills_the_configured_topic(pg_url: str) -> None:
    migrate.downgrade(pg_url, "0003")
    _seed_0003(pg_url, [("argus.events", 1, 0), ("argus.events", 2, 1)])
    migrate.upgrade(pg_url, topic="argus.events")
    assert _topics(pg_url) == ["argus.events", "argus.events"]


def test_migration_0004_gives_each_record_its_commits_topic(pg_url: str) -> None:
    migrate.downgrade(pg_url, "0003")
    _seed_0003(pg_url, [("old.events", 1, 0), ("new.events", 1, 5)])
    migrate.upgrade(pg_url, topic="new.events")
    assert _topics(pg_url) == ["old.events", "new.events"]


def test_migration_0004_on_sqlite(sqlite_url: str) -> None:
    migrate.downgrade(sqlite_url, "0003")
    _seed_0003(sqlite_url, [("old.events", 1, 0), ("new.events", 1, 5)])
    migrate.upgrade(sqlite_url, topic="new.events")
    assert _topics(sqlite_url) == ["old.events", "new.events"]
    migrate.downgrade(sqlite_url, "0003")
    migrate.upgrade(sqlite_url)
