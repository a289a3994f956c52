"""The `argus` command: one entry point, one subcommand per component.

Each component module exposes `register(subparsers)`; this file only wires them together,
so `argus --help` lists exactly what is installed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from argus.config import ConfigError

#: Modules that add a subcommand via `register(subparsers)`.
COMMAND_MODULES = (
    "ingest_gateway.command",
    "processor.command",
    "argus.db.command",
    "argus.verify",
    "argus.log_key",
    "argus.witness",
    "argus.export",
    "argus.run_local",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="argus", description="Argus tamper-evident audit logging.")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # component not installed in this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print(f"argus: invalid configuration: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
