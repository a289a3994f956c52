"""deploy/local/postgres.sh names the log of the cluster it runs, wherever that cluster lives.

As root, a checkout below a directory others cannot enter keeps its cluster in /var/lib/argus-local
(the server runs as `postgres`); `services.sh` prints the log path the script gives (issue 11).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "postgres.sh"


def cksum(text: str) -> str:
    """POSIX `cksum` of a string (CRC-32 over the bytes, then the length), as the script computes it."""
    data = text.encode()
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ _TABLE[((crc >> 24) ^ byte) & 0xFF]) & 0xFFFFFFFF
    length = len(data)
    while length:
        crc = ((crc << 8) ^ _TABLE[((crc >> 24) ^ length) & 0xFF]) & 0xFFFFFFFF
        length >>= 8
    return str(~crc & 0xFFFFFFFF)


def _table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return table


_TABLE = _table()


@pytest.fixture
def checkout() -> Iterator[Path]:
    """A copy of the script at deploy/local/ of a fresh checkout-like folder under /tmp."""
    top = Path(tempfile.mkdtemp(prefix="argus-logpath-"))
    repo = top / "repo"
    (repo / "deploy" / "local").mkdir(parents=True)
    shutil.copy(SCRIPT, repo / "deploy" / "local" / "postgres.sh")
    try:
        yield repo
    finally:
        top.chmod(0o700)
        shutil.rmtree(top)


def log_path(repo: Path) -> str:
    script = repo / "deploy" / "local" / "postgres.sh"
    return subprocess.run(["bash", str(script), "log-path"], check=True, capture_output=True, text=True).stdout.strip()


def test_a_reachable_checkout_keeps_its_log_inside(checkout: Path) -> None:
    checkout.parent.chmod(0o755)
    assert log_path(checkout) == f"{checkout}/.local/postgres/log/postgres.log"


def test_a_private_checkout_names_the_log_where_the_cluster_really_is(checkout: Path) -> None:
    checkout.parent.chmod(0o700)
    expected = f"{checkout}/.local/postgres/log/postgres.log"
    if os.geteuid() == 0:  # the server runs as `postgres`, which cannot enter a 0700 folder
        expected = f"/var/lib/argus-local/postgres-{cksum(str(checkout))}/log/postgres.log"
    assert log_path(checkout) == expected


def test_cksum_matches_the_systems() -> None:
    text = "/work/some/checkout"
    system = subprocess.run(["cksum"], input=text, check=True, capture_output=True, text=True).stdout.split()[0]
    assert cksum(text) == system
