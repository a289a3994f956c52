"""examples/committed_to_duckdb.py against a real processor's committed topic: DuckDB answers "who
did what to target X last week" exactly as the stored trail does, and a second load adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from argus_spec.uuid7 import uuid7
from examples.committed_to_duckdb import load, who_did_what
from tests.integration.harness import Stack, make_event, wait_for

NOW = datetime(2026, 3, 10, tzinfo=UTC)


def test_who_did_what_to_a_target_last_week(stack: Stack) -> None:
    events = []
    for i in range(300):
        when = NOW - timedelta(hours=3 * i + 1)  # 1 h .. ~37 days before NOW
        target = "doc-x" if i % 3 == 0 else f"doc-{i}"
        events.append(make_event(f"duck-{i % 4}", i, id=uuid7(), targetId=target,
                                 timestamp=when.strftime("%Y-%m-%dT%H:%M:%S.000000Z")))  # fmt: skip
    stack.produce_envelopes(events)
    stack.start_processor()
    wait_for(lambda: stack.stored_count() == len(events), 120, lambda: f"all stored\n{stack.logs()}")
    con = duckdb.connect()
    wait_for(lambda: load(con, stack.kafka, stack.committed_topic) >= 0
             and con.execute("SELECT count(*) FROM committed").fetchone() == (len(events),), 60,
             lambda: f"all {len(events)} records in DuckDB")  # fmt: skip

    found = who_did_what(con, "doc-x", NOW)
    week = NOW - timedelta(days=7)
    expected = sorted(
        (datetime.fromisoformat(r["timestamp"]), r["actorId"], r["action"], r["status"], r["eventType"], r["seq"])
        for r in stack.records()
        if r["targetId"] == "doc-x" and week <= datetime.fromisoformat(r["timestamp"]) < NOW
    )
    assert len(expected) == 19  # every third of the 56 events in the week before NOW
    assert [(t.astimezone(UTC), a, act, s, e) for t, a, act, s, e in found] == [x[:5] for x in expected]
    load(con, stack.kafka, stack.committed_topic)  # at least once: a second read stores nothing twice
    assert con.execute("SELECT count(*) FROM committed").fetchone() == (len(events),)
