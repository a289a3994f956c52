"""`argus run`: migrate, then run a gateway and a processor side by side (the local all-in-one).

Production runs the components as separate deployments; this is the laptop path behind the
README's run command. Each component is its own process, exactly as in production.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from typing import Any

from argus.db import migrate
from argus.runtime.settings import load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="migrate and run gateway + processor locally until Ctrl-C")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    migrate.upgrade(settings.database_url)
    base = [sys.executable, "-m", "argus_commands", "--log-level", args.log_level]
    children = [subprocess.Popen([*base, "gateway"]), subprocess.Popen([*base, "processor"])]
    print(
        f"argus: gateway http://{settings.host}:{settings.port} | kafka {settings.kafka_bootstrap} "
        f"| store {settings.database_url} | Ctrl-C to stop",
        flush=True,
    )
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else 1
