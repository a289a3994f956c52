"""The disk spool: atomic batch files, order, quarantine, and one replayer per directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from argus_client import spool as spool_module
from argus_client.spool import Spool


def _items(n: int, start: int = 0) -> list[str]:
    return [orjson.dumps({"id": f"e{i}", "actorId": "a"}).decode() for i in range(start, start + n)]


def test_batches_round_trip_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    first, second = spool.write(_items(3)), spool.write(_items(2, 3))
    assert spool.pending() == first + second
    assert spool.read(first[0]) == _items(3)
    assert spool.pending_events() == 5
    spool.rewrite(first[0], _items(1))
    assert spool.read(first[0]) == _items(1)
    spool.rewrite(first[0], [])
    spool.remove(second[0])
    assert spool.pending() == []


def test_large_batches_are_split_into_bounded_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events_per_file=4)
    paths = spool.write(_items(10))
    assert [len(spool.read(p) or []) for p in paths] == [4, 4, 2]


def test_a_crash_before_rename_leaves_no_partial_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path)

    def crash(*_args: object) -> None:
        raise OSError("simulated crash between fsync and rename")

    monkeypatch.setattr(spool_module.os, "replace", crash)
    with pytest.raises(OSError):
        spool.write(_items(5))
    monkeypatch.undo()
    assert spool.pending() == []  # the reader never sees a half-written batch
    assert len(list(tmp_path.glob(".*.tmp"))) == 1  # only the temp file of a live writer


def test_temp_files_of_dead_writers_are_removed_by_the_replayer(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    stale = tmp_path / f".{int(dead.stdout)}.0190.tmp"
    stale.write_text("half a batch")
    ours = tmp_path / f".{os.getpid()}.0191.tmp"
    ours.write_text("being written")
    spool = Spool(tmp_path)
    assert spool.acquire()
    assert not stale.exists() and ours.exists()
    spool.release()


def test_written_files_are_complete_and_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(spool_module.os, "fsync", counting_fsync)
    [path] = Spool(tmp_path).write(_items(3))
    assert len(synced) == 2  # the file, then the directory entry
    assert path.read_bytes().count(b"\n") == 3 and path.suffix == ".ndjson"


def test_an_unreadable_batch_is_quarantined_not_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    [path] = spool.write(_items(2))
    path.write_text('{"id": "ok"}\nnot json\n')
    assert spool.read(path) is None
    assert spool.pending() == [] and path.with_suffix(".bad").exists()


def test_only_one_replayer_per_directory_and_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    first, second = Spool(tmp_path), Spool(tmp_path)
    assert first.acquire()
    assert first.acquire()  # re-entrant for its holder
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from argus_client.spool import Spool; s = Spool(sys.argv[1]); "
            "assert s.acquire(); print('locked', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        assert not first.acquire()
        holder.kill()
        holder.wait()
        assert first.acquire()  # the kernel released the dead holder's flock
    finally:
        if holder.poll() is None:
            holder.kill()
        first.release()


def test_a_batch_the_gateway_keeps_failing_does_not_block_the_others(tmp_path: Path) -> None:
    from argus_client.client import AuditClient
    from argus_client.encoder import EventEncoder
    from argus_spec.enums import EnumConfig
    from tests.unit.test_client_sync import FakeGateway, accept, event

    def picky(hit: int, events: list[dict[str, object]]) -> tuple[int, object, dict[str, str]]:
        return (500, {}, {}) if any(e["targetId"] == "poison" for e in events) else accept(hit, events)

    encoder = EventEncoder(EnumConfig())
    spool = Spool(tmp_path)
    spool.write([encoder.encode(event(0, targetId="poison"))])
    spool.write([encoder.encode(event(1))])
    with FakeGateway(picky) as server:
        client = AuditClient(server.url, api_key="k", spool_dir=tmp_path, autostart=False)
        assert client.replay_once() == 0  # the oldest file fails: this pass stops
        assert client.replay_once() == 1  # the next pass starts after it, then wraps around to it
        client.close(1)
    assert [e["targetId"] for e in server.events] == ["poison", "doc-1", "poison"]
    assert [len(spool.read(p) or []) for p in spool.pending()] == [1]
