"""The gateway's bounded map of recently produced ids (ingest_gateway/recent_ids.py)."""

from __future__ import annotations

from ingest_gateway.recent_ids import RecentIds


def test_an_id_claimed_with_one_content_refuses_another_and_takes_the_same_again() -> None:
    recent = RecentIds(10)
    assert recent.claim([("a", b"1"), ("b", b"2")]) == set()
    assert recent.claim([("a", b"1"), ("b", b"other"), ("c", b"3")]) == {"b"}
    assert recent.claim([("b", b"2")]) == set()  # the first content keeps the id
    assert len(recent) == 3


def test_the_map_is_bounded_and_forgets_the_least_recently_claimed_first() -> None:
    recent = RecentIds(3)
    recent.claim([("a", b"1"), ("b", b"1"), ("c", b"1")])
    recent.claim([("a", b"1")])  # claimed again: now the most recent
    recent.claim([("d", b"1")])
    assert len(recent) == 3
    assert recent.claim([("b", b"other")]) == set()  # b was forgotten
    assert recent.claim([("a", b"other"), ("d", b"other")]) == {"a", "d"}


def test_capacity_zero_disables_it() -> None:
    recent = RecentIds(0)
    assert recent.claim([("a", b"1")]) == set()
    assert recent.claim([("a", b"2")]) == set()
    assert len(recent) == 0
