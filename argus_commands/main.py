"""The `argus` command: one entry point, one subcommand per component.

Each component module exposes `register(subparsers)`; this file only wires them together,
so `argus --help` lists exactly what is installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from argus.runtime import logs
from argus.runtime.settings import ConfigError, Settings, load_settings

#: Modules that add a subcommand via `register(subparsers)`.
COMMAND_MODULES = (
    "ingest_gateway.command",
    "processor.command",
    "argus.db.command",
    "argus.audit.verify",
    "argus.trust.log_key",
    "argus.trust.receipt_keys",
    "argus.tlog.backfill",
    "argus.tlog.witness",
    "argus.audit.export",
    "argus_commands.run_local",
    "argus_commands.spool_replay",
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


def configure_logging(level: str) -> Settings | None:
    """Text or JSON logs (ARGUS_LOG_FORMAT) with the settings' secrets redacted; invalid settings
    log as text and are reported by the command itself."""
    try:
        settings: Settings | None = load_settings()
    except ConfigError:
        settings = None
    logs.configure(level, settings.log_format if settings else "text")
    if settings is not None:
        logs.register_secrets(*settings.secrets())
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print(f"argus: invalid configuration: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
