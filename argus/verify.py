"""`argus verify`: recompute every record's hash and check every chain link, from the database, from
an NDJSON export or straight from the S3 sink's WORM bucket, and report each break with its actor,
seq and kind (docs/hash-chain.md). Signatures and the registry's mustSign policy are checked whenever
a key registry is configured; in the database also the derived columns (event_time) and the edges of
a time window (argus/record_checks.py).

Exits 0 only when everything verifies. Memory stays constant: records stream in (actor, seq) order.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Engine

from argus.db.schema import audit_records
from argus.export import Scope, add_source_arguments, count_records, db_rows, file_rows, make_db_engine, select_records
from argus.progress import Progress, wanted
from argus.record_checks import TrailChecker, event_time_text, hidden_from_window
from argus_client.hashchain import ChainBreak

if TYPE_CHECKING:
    from argus.keys import KeyRegistry

TRUNCATION_NOTE = (
    "a hash chain alone cannot show that an actor's newest records were removed (truncation) or "
    "replaced by a consistent new tail; only signed checkpoints of chain heads can"
)
ANCHOR_NOTE = ("time range: each actor's chain is checked from the record before its first record in range (its "
               "anchor, whose previousHash is trusted) to the record after its last")
SIGNATURES_OFF = "signatures not checked: {why}; a stripped or forged signature would go unnoticed"


def load_registry(args: argparse.Namespace) -> tuple[KeyRegistry | None, str | None]:
    """The key registry signatures are checked with, or None and why not: checking is on wherever a
    registry is configured (--keys / ARGUS_KEYS_CONFIG) unless --no-signatures turns it off."""
    if args.signatures is False:
        return None, "turned off with --no-signatures"
    if not args.keys:
        if args.signatures:
            raise ValueError("--signatures needs the key registry: pass --keys or set ARGUS_KEYS_CONFIG")
        return None, "no key registry configured (--keys or ARGUS_KEYS_CONFIG)"
    from argus.keys import KeyRegistry  # the key stack is not needed otherwise

    return KeyRegistry.load(args.keys), None


def verify_rows(rows: Iterable[Any], *, anchored: bool, registry: KeyRegistry | None = None,
                signatures_off: str | None = None, progress: Progress | None = None) -> dict[str, Any]:  # fmt: skip
    """Run every record check (argus/record_checks.py) over ordered verify rows; the report dict.
    `signatures_off` says why signatures were not checked (with no registry)."""
    checker = TrailChecker(anchored=anchored, registry=registry)
    progress = progress or Progress("verified", None, enabled=False)
    breaks: list[ChainBreak] = []
    feed = checker.feed
    started = time.perf_counter()
    count = 0
    for count, row in enumerate(rows, 1):
        found = feed(row)
        if found:
            breaks += found
        if not count & 0x3FFF:
            progress.tick(count)
    breaks += checker.finish()
    elapsed = time.perf_counter() - started
    progress.finish(count)
    notes = [TRUNCATION_NOTE] + ([ANCHOR_NOTE] if anchored else [])
    if checker.signatures is not None and checker.signatures.unsigned:
        notes.append(f"{checker.signatures.unsigned} records carry no signature; only signed records were checked, "
                     "and unsigned ones against the registry's mustSign policy")  # fmt: skip
    if checker.signatures is None:
        notes.append(SIGNATURES_OFF.format(why=signatures_off or "no key registry"))
    return {
        "ok": not breaks,
        "records": checker.chain.records,
        "actors": checker.chain.actors,
        "signaturesChecked": checker.signatures is not None,
        "breaks": [b.as_dict() for b in sorted_breaks(breaks)],
        "rate": round(count / elapsed) if elapsed > 0 else None,
        "notes": notes,
    }


def sorted_breaks(breaks: Iterable[ChainBreak]) -> list[ChainBreak]:
    """Each (actor, seq, kind) once (a record can be found by two checks), in report order."""
    unique = {(b.actor_id, b.seq, b.kind): b for b in reversed(list(breaks))}
    return sorted(unique.values(), key=lambda b: (b.actor_id, b.seq, b.kind))


def database_rows(engine: Engine, scope: Scope) -> Iterator[Any]:
    """The scope's verify rows from the database: record, event_time text, signature_ambiguous, window low."""
    extra = (event_time_text(engine.dialect.name), audit_records.c.signature_ambiguous)
    return db_rows(engine, scope, select_records(scope, extra, with_low=True))


def _rows(args: argparse.Namespace, scope: Scope, show: bool) -> tuple[Iterator[Any], int | None, Engine | None]:
    if args.from_file:  # an export has no event_time or signature_ambiguous: those are checked in the database
        rows = file_rows(args.from_file, scope, with_low=True)
        return ((*row[:-1], None, None, row[-1]) for row in rows), None, None
    engine = make_db_engine(args.database_url)
    return database_rows(engine, scope), count_records(engine, scope) if show else None, engine


def render_text(report: dict[str, Any]) -> str:
    status = "OK" if report["ok"] else f"FAILED: {len(report['breaks'])} break(s)"
    lines = [f"argus verify: {status}; {report['records']:,} records, {report['actors']:,} actors, "
             f"{report['rate'] or 0:,} records/s"]  # fmt: skip
    lines += [f"  {b['kind']:<13} actor {b['actorId']!r} seq {b['seq']}: {b['detail']}" for b in report["breaks"]]
    if "log" in report:
        log = report["log"]
        status = "OK" if not log["problems"] else f"FAILED: {len(log['problems'])} problem(s)"
        lines.append(f"transparency log: {status}; " + ", ".join(
            f"{p['topic']}/{p['partition']}: {p['records']:,} records, checkpoint {p['checkpointSize']:,}"
            for p in log["partitions"]))  # fmt: skip
        lines += [f"  {p['kind']:<13} {p['topic']} partition {p['partition']}"
                  + (f" leaf {p['leaf']}" if p["leaf"] is not None else "") + f": {p['detail']}"
                  for p in log["problems"]]  # fmt: skip
    if "receipts" in report:
        receipts = report["receipts"]
        status = "OK" if not receipts["problems"] else f"FAILED: {len(receipts['problems'])} problem(s)"
        lines.append(f"receipts: {status}; {receipts['proven']:,} of {receipts['receipts']:,} proven included")
        lines += [f"  {p['kind']:<13} {p['id']}: {p['detail']}\n    receipt: {orjson.dumps(p['receipt']).decode()}"
                  for p in receipts["problems"]]  # fmt: skip
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)


def _s3_rows(url: str, scope: Scope) -> tuple[Iterator[Any], list[str]]:
    """Records of the S3 sink's bucket (sinks/s3_read.py: the bucket's own integrity problems too),
    filtered like an export file."""
    from argus_client.hashchain import record_row
    from sinks.s3_read import read_bucket  # boto3: only for --from-s3

    records, problems = read_bucket(url)
    if scope.start is not None or scope.end is not None:
        raise ValueError("--from-s3 verifies whole chains: --from/--to are not supported with it")
    rows = ((*record_row(r), None, None, None) for r in records if scope.actor is None or r["actorId"] == scope.actor)
    return rows, problems


def _kafka_config() -> dict[str, str]:
    """The Kafka client settings of the environment (ARGUS_KAFKA_BOOTSTRAP and its security settings)."""
    from argus.config import load_settings

    return load_settings().kafka_client_config()


def _check_log(args: argparse.Namespace, report: dict[str, Any]) -> list[Any]:
    """With --checkpoint: the stored trees against signed checkpoints (argus/verify_log.py)."""
    from argus.verify_log import (
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
    from argus.receipts import parse_verifier_keys
    from argus.verify_receipts import read_receipts, verify_receipts

    if not args.checkpoint:
        raise ValueError("--receipts proves inclusion against trusted checkpoints: pass --checkpoint too")
    keys = parse_verifier_keys(",".join(args.receipt_key), "--receipt-key")
    if not keys:
        raise ValueError("--receipts needs the gateway's receipt key: pass --receipt-key")
    result = verify_receipts(make_db_engine(args.database_url), read_receipts(args.receipts), keys, checkpoints)
    report["receipts"] = result
    report["ok"] = report["ok"] and not result["problems"]


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
        if engine is not None and (hidden := list(hidden_from_window(engine, scope))):
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
