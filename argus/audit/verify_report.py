"""Every record check over a stream of rows, and the report `argus verify` prints (as text or JSON).

Storage-free: rows come from any source (the database, an export, the S3 bucket), so checking an
export needs the spec package, the checks and this module only (tests/unit/test_standalone_verifier.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from argus.audit.progress import Progress
from argus.audit.record_checks import TrailChecker
from argus_spec.hashchain import ChainBreak

if TYPE_CHECKING:
    from argus.trust.key_registry import KeyRegistry

TRUNCATION_NOTE = (
    "a hash chain alone cannot show that an actor's newest records were removed (truncation) or "
    "replaced by a consistent new tail; only signed checkpoints of chain heads can"
)
ANCHOR_NOTE = (
    "time range: each actor's chain is checked from the record before its first record in range (its "
    "anchor, whose previousHash is trusted) to the record after its last"
)
SIGNATURES_OFF = "signatures not checked: {why}; a stripped or forged signature would go unnoticed"


def verify_rows(rows: Iterable[Any], *, anchored: bool, registry: KeyRegistry | None = None,
                signatures_off: str | None = None, progress: Progress | None = None) -> dict[str, Any]:  # fmt: skip
    """Run every record check (argus/audit/record_checks.py) over ordered verify rows; the report dict.
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
