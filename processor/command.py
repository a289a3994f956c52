"""`argus processor`: run one processor replica (start more for more throughput)."""

from __future__ import annotations

import argparse
from typing import Any

import faust
from prometheus_client import start_http_server

from argus.config import load_settings
from processor.app import create_app


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("processor", help="consume argus.events, verify, hash-chain and store")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.processor_metrics_port:  # Prometheus scrape endpoint; 0 disables it
        start_http_server(settings.processor_metrics_port, addr=settings.host)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=args.log_level.lower(), quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
