"""`argus verify`: recompute every record's hash and check every chain link, from the database, from
an NDJSON export or straight from the S3 sink's WORM bucket, and report each break with its actor,
seq and kind (docs/hash-chain.md). Signatures and the registry's mustSign policy are checked whenever
a key registry is configured; in the database also the derived columns (event_time) and the edges of
a time window (argus/audit/record_checks.py).

Exits 0 only when everything verifies. Memory stays constant: records stream in (actor, seq) order.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from argus.audit.progress import Progress, wanted
from argus.audit.records_file import Scope, add_source_arguments, file_rows
from argus.audit.verify_report import TRUNCATION_NOTE, render_text, sorted_breaks, verify_rows
from argus_spec.hashchain import ChainBreak

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from argus.trust.key_registry import KeyRegistry


def load_registry(args: argparse.Namespace) -> tuple[KeyRegistry | None, str | None]:
    """The key registry signatures are checked with, or None and why not: checking is on wherever a
    registry is configured (--keys / ARGUS_KEYS_CONFIG) unless --no-signatures turns it off."""
    if args.signatures is False:
        return None, "turned off with --no-signatures"
    if not args.keys:
        if args.signatures:
            raise ValueError("--signatures needs the key registry: pass --keys or set ARGUS_KEYS_CONFIG")
        return None, "no key registry configured (--keys or ARGUS_KEYS_CONFIG)"
    from argus.trust.key_registry import KeyRegistry  # the key stack is not needed otherwise

    return KeyRegistry.load(args.keys), None


def _rows(args: argparse.Namespace, scope: Scope, show: bool) -> tuple[Iterator[Any], int | None, Engine | None]:
    if args.from_file:  # an export has no event_time or signature_ambiguous: those are checked in the database
        rows = file_rows(args.from_file, scope, with_low=True)
        return ((*row[:-1], None, None, row[-1]) for row in rows), None, None
    from argus.audit.export import count_records, make_db_engine  # the database stack: only when reading it
    from argus.audit.verify_db import database_rows

    engine = make_db_engine(args.database_url)
    return database_rows(engine, scope), count_records(engine, scope) if show else None, engine


def _s3_rows(url: str, scope: Scope) -> tuple[Iterator[Any], list[str]]:
    """Records of the S3 sink's bucket (sinks/s3_read.py: the bucket's own integrity problems too),
    filtered like an export file."""
    from argus_spec.hashchain import record_row
    from sinks.s3_read import read_bucket  # boto3: only for --from-s3

    records, problems = read_bucket(url)
    if scope.start is not None or scope.end is not None:
        raise ValueError("--from-s3 verifies whole chains: --from/--to are not supported with it")
    rows = ((*record_row(r), None, None, None) for r in records if scope.actor is None or r["actorId"] == scope.actor)
    return rows, problems


def _kafka_config() -> dict[str, str]:
    """The Kafka client settings of the environment (ARGUS_KAFKA_BOOTSTRAP and its security settings)."""
    from argus.runtime.settings import load_settings

    return load_settings().kafka_client_config()


def _check_log(args: argparse.Namespace, report: dict[str, Any]) -> list[Any]:
    """With --checkpoint: the stored trees against signed checkpoints (argus/audit/verify_log.py)."""
    from argus.audit.verify_log import (
        KAFKA_SOURCE,
        load_verifiers,
        load_witness_keys,
        trusted_checkpoints,
        verify_file_log,
        verify_log,
    )

    if getattr(args, "from_s3", None):
        raise ValueError("--checkpoint checks the database's or an export's partitions; use it without --from-s3")
    verifiers = load_verifiers(args.log_key)
    witnesses = load_witness_keys(args.witness_key)
    if args.witnesses > len(witnesses):
        raise ValueError(f"--witnesses {args.witnesses} needs at least that many --witness-key")
    kafka = _kafka_config() if any(s.startswith(KAFKA_SOURCE) for s in args.checkpoint) else None
    checkpoints = trusted_checkpoints(args.checkpoint, verifiers, args.token, witnesses, args.witnesses, kafka)
    if args.from_file:
        log = verify_file_log(args.from_file, checkpoints)
        report["notes"] += [f"records in no checkpoint given: {note}" for note in log.pop("notes")]
    else:
        from argus.audit.export import make_db_engine

        log = verify_log(make_db_engine(args.database_url), checkpoints, verifiers)
    report["log"] = log
    report["ok"] = report["ok"] and not log["problems"]
    report["notes"] = [n for n in report["notes"] if n != TRUNCATION_NOTE]
    report["notes"].append(f"checked {len(log['partitions'])} partition(s) against {len(checkpoints)} signed "
                           "checkpoint(s); records newer than the newest checkpoint are covered only by the "
                           "store's own checkpoints")  # fmt: skip
    if args.witnesses:
        report["notes"].append(f"every checkpoint given carries cosignatures of at least {args.witnesses} "
                               "trusted witness(es)")  # fmt: skip
    return checkpoints


def _check_receipts(args: argparse.Namespace, report: dict[str, Any], checkpoints: list[Any]) -> None:
    """With --receipts: every receipted event is in the store and proven in a trusted checkpoint."""
    from argus.audit.export import make_db_engine
    from argus.audit.verify_receipts import read_receipts, verify_receipts
    from argus.trust.receipt_keys import parse_verifier_keys

    if not args.checkpoint:
        raise ValueError("--receipts proves inclusion against trusted checkpoints: pass --checkpoint too")
    keys = parse_verifier_keys(",".join(args.receipt_key), "--receipt-key")
    if not keys:
        raise ValueError("--receipts needs the gateway's receipt key: pass --receipt-key")
    result = verify_receipts(make_db_engine(args.database_url), read_receipts(args.receipts), keys, checkpoints)
    report["receipts"] = result
    report["ok"] = report["ok"] and not result["problems"]


def _hidden_from_window(engine: Engine, scope: Scope) -> Iterator[ChainBreak]:
    from argus.audit.verify_db import hidden_from_window

    return hidden_from_window(engine, scope)


def run(args: argparse.Namespace) -> int:
    scope = Scope.from_args(args)
    try:
        problems: list[str] = []
        show = wanted(args.quiet)
        engine = None
        registry, off = load_registry(args)
        if args.from_s3:
            rows, problems = _s3_rows(args.from_s3, scope)
            total = None
        else:
            rows, total, engine = _rows(args, scope, show)
        report = verify_rows(rows, anchored=scope.anchored, registry=registry, signatures_off=off,
                             progress=Progress("verified", total, show))  # fmt: skip
        if engine is not None and (hidden := list(_hidden_from_window(engine, scope))):
            breaks = [ChainBreak(b["actorId"], b["seq"], b["kind"], b["detail"]) for b in report["breaks"]]
            report["breaks"] = [b.as_dict() for b in sorted_breaks(breaks + hidden)]
            report["ok"] = False
        if problems:
            report["ok"] = False
            report["notes"] = [f"bucket: {p}" for p in problems] + report["notes"]
        checkpoints = _check_log(args, report) if args.checkpoint else []
        if args.receipts:
            _check_receipts(args, report, checkpoints)
    except Exception as exc:  # a CLI: report, don't trace
        print(f"argus verify: cannot verify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(orjson.dumps(report).decode())
    else:
        print(render_text(report))
    return 0 if report["ok"] else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("verify", help="verify the hash chains (and signatures, given a key registry)",
                                   description=__doc__)  # fmt: skip
    add_source_arguments(parser)
    parser.add_argument("--from-file", metavar="NDJSON", help="verify an `argus export` file instead of the database")
    parser.add_argument("--from-s3", metavar="URL",
                        help="verify the S3 sink's bucket (its sink URL: s3://bucket/prefix?endpoint=...)")  # fmt: skip
    parser.add_argument("--signatures", action=argparse.BooleanOptionalAction, default=None,
                        help="check every record's signature, and unsigned records against the registry's mustSign "
                             "policy (default: on whenever a key registry is configured)")  # fmt: skip
    parser.add_argument("--keys", default=os.environ.get("ARGUS_KEYS_CONFIG"), metavar="YAML",
                        help="key registry for signatures (default: $ARGUS_KEYS_CONFIG)")  # fmt: skip
    parser.add_argument("--checkpoint", action="append", default=[], metavar="FILE|URL",
                        help="signed checkpoint(s) to check each partition's tree against (a note file, the "
                             "checkpoints JSON, or its URL), or kafka:TOPIC for every note of the checkpoints "
                             "topic (ARGUS_KAFKA_BOOTSTRAP and its security settings); repeatable")  # fmt: skip
    parser.add_argument("--log-key", action="append",
                        default=[k for k in [os.environ.get("ARGUS_LOG_VERIFIER_KEY")] if k], metavar="VKEY|FILE",
                        help="trusted log public key (name+hash+key, as `argus log-key` prints it; default: "
                             "$ARGUS_LOG_VERIFIER_KEY)")  # fmt: skip
    parser.add_argument("--witness-key", action="append", default=[], metavar="VKEY|FILE",
                        help="trusted witness public key (as `argus witness-key` prints it); repeatable")  # fmt: skip
    parser.add_argument("--witnesses", type=int, default=0, metavar="N",
                        help="every --checkpoint note must carry cosignatures of N distinct trusted witnesses "
                             "(docs/witness.md)")  # fmt: skip
    parser.add_argument("--token", default=os.environ.get("ARGUS_TOKEN"),
                        help="bearer token for a checkpoint URL (default: $ARGUS_TOKEN)")  # fmt: skip
    parser.add_argument("--receipts", metavar="FILE",
                        help="receipts the gateway issued (NDJSON or a JSON array): prove each event is in the "
                             "log, with inclusion proofs against --checkpoint (docs/receipts.md)")  # fmt: skip
    parser.add_argument("--receipt-key", action="append",
                        default=[k for k in [os.environ.get("ARGUS_RECEIPT_VERIFIER_KEYS")] if k], metavar="VKEY|FILE",
                        help="the gateway's receipt verifier key (as `argus receipt-key` prints it; default: "
                             "$ARGUS_RECEIPT_VERIFIER_KEYS)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON report object")
    parser.set_defaults(func=run)
