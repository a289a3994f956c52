"""Benchmarks: component benches and the end-to-end run against the machine's own limits (`bench.run_all`).

The helpers here read a process's memory and CPU from /proc, so no psutil is needed (Linux only).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    """A TCP port free on loopback now (the gateway binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_mb(pid: int, field: str) -> float:
    """VmRSS / VmHWM (peak RSS) of a live process, in MB, from /proc (no psutil needed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_s(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each of `pids` (all threads); vanished processes are left out."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two `cpu_s` readings, over the processes alive at both."""
    return sum(after[pid] - before[pid] for pid in after.keys() & before.keys())


def pids_of(*needles: str) -> list[int]:
    """Processes whose command line contains one of `needles` (PostgreSQL backends, the Kafka JVM)."""
    wanted = [needle.encode() for needle in needles]
    return [int(e.name) for e in Path("/proc").glob("[0-9]*") if any(w in _cmdline(e) for w in wanted)]


def listener_of(port: int, candidates: list[int]) -> list[int]:
    """Those of `candidates` that listen on TCP `port` (which Kafka JVM is the bench's broker);
    all candidates when none can be told apart."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    found = []
    for pid in candidates:
        try:
            if any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir()):
                found.append(pid)
        except OSError:
            continue
    return found or candidates


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def py_spy(pids: dict[str, int], out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy (if installed in this venv) on each pid, collapsed stacks to out/<name>.txt, written on SIGINT."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return []
    out.mkdir(parents=True, exist_ok=True)
    args = ["record", "--rate", "250", "--nonblocking", "--format", "raw", "--pid"]
    return [
        subprocess.Popen([spy, *args, str(pid), "--output", out / f"{name}.txt"], stderr=subprocess.DEVNULL)
        for name, pid in pids.items()
    ]
