"""`argus gateway`: serve the ingest HTTP API."""

from __future__ import annotations

import argparse
from typing import Any

from argus.runtime.gc_tuning import tune_garbage_collector
from argus.runtime.settings import load_settings
from ingest_gateway import server
from ingest_gateway.app import init


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gateway", help="serve the ingest HTTP API (ARGUS_HOST:ARGUS_PORT)")
    parser.add_argument("--host", help="override ARGUS_HOST")
    parser.add_argument("--port", type=int, help="override ARGUS_PORT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    app = init(settings)
    tune_garbage_collector()
    print(f"argus gateway listening on http://{host}:{port}", flush=True)
    server.run(app, host, port)
    return 0
