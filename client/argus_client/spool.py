"""Disk spool for batches the gateway could not take, so an outage or a crash of the host loses nothing spooled.

Layout: one file per batch, `<nanoseconds>-<pid>.ndjson` (names sort by creation time), one encoded event per line.
Writes go to a temp file in the same directory, are fsynced, renamed into place and the directory is
fsynced: a batch file is complete or absent, never torn. Only the process holding `spool.lock` (an
flock, which the kernel drops when its holder dies) replays, so two clients sharing a directory never
send the same file concurrently; anyone may write.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from argus_spec.uuid7 import uuid7

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX: no cross-process exclusion
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

SUFFIX = ".ndjson"
BAD_SUFFIX = ".bad"
LOCK_NAME = "spool.lock"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_name_lock = threading.Lock()
_last_ns = 0


def _batch_name() -> str:
    """`<ns>-<pid>.ndjson`: strictly increasing within a process, so files sort in writing order."""
    global _last_ns
    with _name_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return f"{_last_ns:020d}-{os.getpid()}{SUFFIX}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """A directory of batch files. Thread-safe for writers; replay only while `acquire()` holds the lock."""

    def __init__(self, directory: str | os.PathLike[str], max_events_per_file: int = 1000) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._max = max(1, max_events_per_file)
        self._lock_fd: int | None = None
        self._mutex = threading.Lock()

    def write(self, items: Sequence[str]) -> list[Path]:
        """Durably store `items` (encoded events); returns the batch files created."""
        paths = []
        for start in range(0, len(items), self._max):
            path = self.directory / _batch_name()
            self._write_atomic(path, items[start : start + self._max])
            paths.append(path)
        return paths

    def rewrite(self, path: Path, items: Sequence[str]) -> None:
        """Replace a batch file with the items still unsent (after a partial replay)."""
        if items:
            self._write_atomic(path, items)
        else:
            self.remove(path)

    def _write_atomic(self, path: Path, items: Sequence[str]) -> None:
        temp = self.directory / f".{os.getpid()}.{uuid7()}.tmp"
        data = ("\n".join(items) + "\n").encode("utf-8")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        _fsync_dir(self.directory)

    def pending(self) -> list[Path]:
        """Batch files, oldest first."""
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def pending_events(self) -> int:
        total = 0
        for path in self.pending():
            try:
                total += path.read_bytes().count(b"\n")
            except FileNotFoundError:
                continue
        return total

    def read(self, path: Path) -> list[str] | None:
        """The events of one batch file; None if it vanished. An unreadable file is quarantined as `.bad`."""
        try:
            lines = path.read_bytes().decode("utf-8").splitlines()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._quarantine(path, str(exc))
            return None
        items = [line for line in lines if line]
        for line in items:
            try:
                ok = isinstance(orjson.loads(line), dict)
            except orjson.JSONDecodeError:
                ok = False
            if not ok:
                self._quarantine(path, "a line is not a JSON object")
                return None
        return items

    def _quarantine(self, path: Path, why: str) -> None:
        target = path.with_suffix(BAD_SUFFIX)
        log.error("argus spool: %s is unreadable (%s); moved to %s for manual recovery", path, why, target.name)
        try:
            os.replace(path, target)
        except OSError:
            log.exception("argus spool: could not quarantine %s", path)

    def remove(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(self.directory)

    def acquire(self) -> bool:
        """Try to become this directory's replayer; stale temp files of dead writers are removed."""
        with self._mutex:
            if self._lock_fd is not None:
                return True
            fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    return False
            self._lock_fd = fd
        self._clean_temp()
        return True

    def release(self) -> None:
        with self._mutex:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing drops the flock
                self._lock_fd = None

    def _clean_temp(self) -> None:
        for temp in self.directory.glob(".*.tmp"):
            pid_text = temp.name.split(".")[1]
            if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                temp.unlink(missing_ok=True)
