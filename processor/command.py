"""`argus processor`: run one processor replica (start more for more throughput)."""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
from typing import Any

from confluent_kafka import KafkaException
from prometheus_client import start_http_server

from argus.runtime import logs
from argus.runtime.gc_tuning import tune_garbage_collector
from argus.runtime.settings import load_settings
from processor.faust_seam import ReplicaWorker
from processor.replica import build_replica


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("processor", help="consume argus.events, verify, hash-chain and store")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.processor_metrics_port:  # Prometheus scrape endpoint; 0 disables it
        start_http_server(settings.processor_metrics_port, addr=settings.host)
    try:
        app = build_replica(settings)
    except KafkaException as exc:  # e.g. the broker is unreachable while topics are ensured
        print(f"argus processor: cannot reach Kafka at {settings.kafka_bootstrap}: {exc}", file=sys.stderr)
        return 1
    tune_garbage_collector()
    # SIGQUIT writes every thread's stack to stderr (as a JVM does), even with the event loop blocked:
    # where a replica that will not stop or stopped storing waits (docs/operations.md). Not SIGUSR1/2: mode takes those.
    faulthandler.register(signal.SIGQUIT, all_threads=True)
    worker = ReplicaWorker(
        app,
        loglevel=args.log_level.lower(),
        quiet=True,
        redirect_stdouts=False,
        logging_config=logs.dict_config(args.log_level, settings.log_format),  # faust would replace ours
    )
    worker.execute_from_commandline()
    return 0
