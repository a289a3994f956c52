"""`argus spool replay DIR`: send spooled batches to the gateway, per item, and clear what is settled.

Two spool formats are read:
- the reference Go client's `argus-spool-*.json`: each file is the exact bulk body it failed to
  send (a JSON array of events, usually without ids). That client never replays them itself.
- the SDK's own `*.ndjson` (client/argus_client/spool.py): one encoded event per line. The SDK's
  `spool.lock` is taken first, so a running SDK client never replays the same files at once.

Each file goes to POST /api/audit-logs/bulk as it is (halved while the gateway answers 413 for
the whole request). A file is removed only once every item is settled: stored, or refused for
good (a 4xx for that item: it can never succeed as it is). Refused items are kept beside it in
`<file>.refused.json` with the answer, so nothing disappears unseen. Items that may succeed later
(503, 429, network errors) stay in the file, which is rewritten to hold only them.

Replays are idempotent: SDK events carry their ids, and id-less events get content-derived ids
at the gateway (ARGUS_CONTENT_IDS, docs/api.md), the same ids their first attempts got, so a
batch that did reach the gateway before it was spooled is not stored twice.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from argus_client.spool import Spool
from argus_client.transport import HttpTransport

GO_PATTERN = "argus-spool-*.json"
SDK_SUFFIX = ".ndjson"
REFUSED_SUFFIX = ".refused.json"
RETRYABLE_4XX = frozenset({408, 425, 429})


class StopReplay(Exception):
    """The gateway refuses us as a caller (401/403): no file can succeed; fix the token first."""


@dataclass
class FileResult:
    stored: list[str] = field(default_factory=list)  # ids
    refused: list[dict[str, Any]] = field(default_factory=list)  # {"event", "status", "error"}
    pending: list[Any] = field(default_factory=list)  # events to try again later
    reason: str = ""  # why items are pending


def _permanent(status: int) -> bool:
    return 400 <= status < 500 and status not in RETRYABLE_4XX


def send(transport: HttpTransport, events: list[Any], result: FileResult, timeout: float, out: TextIO) -> None:
    """POST `events` as one bulk and sort each into stored / refused / pending (printing each)."""
    try:
        status, data, _retry_after = transport.post(orjson.dumps(events), timeout)
    except (OSError, http.client.HTTPException) as exc:
        result.pending.extend(events)
        result.reason = f"network error: {exc}"
        return
    try:
        body = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        body = {}
    if status in (401, 403):
        raise StopReplay(f"HTTP {status}: {body.get('message', data[:200])}")
    if status == 413 and len(events) > 1 and "failed" not in body:
        half = len(events) // 2
        send(transport, events[:half], result, timeout, out)
        send(transport, events[half:], result, timeout, out)
        return
    if isinstance(body, dict) and isinstance(body.get("succeeded"), list) and isinstance(body.get("failed"), list):
        for item in body["succeeded"]:
            result.stored.append(str(item["id"]))
            print(f"  #{item['index']}: stored {item['id']}", file=out)
        for item in body["failed"]:
            item_status = int(item.get("status", status))
            event = events[item["index"]]
            if _permanent(item_status):
                result.refused.append({"event": event, "status": item_status, "error": item.get("error")})
                print(f"  #{item['index']}: refused for good ({item_status}) {item.get('error')}", file=out)
            else:
                result.pending.append(event)
                result.reason = f"HTTP {item_status}"
                print(f"  #{item['index']}: not stored yet ({item_status}) {item.get('error')}", file=out)
        return
    message = body.get("message", "") if isinstance(body, dict) else ""
    if _permanent(status):
        for index, event in enumerate(events):
            result.refused.append({"event": event, "status": status, "error": message})
            print(f"  #{index}: refused for good ({status}) {message}", file=out)
    else:
        result.pending.extend(events)
        result.reason = f"HTTP {status} {message}".strip()


def _read_events(path: Path) -> list[Any]:
    """The events of a spool file (either format); raises ValueError if it is not one."""
    data = path.read_bytes()
    if path.suffix == SDK_SUFFIX:
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]
    events = orjson.loads(data)
    if not isinstance(events, list):
        raise ValueError("not a JSON array of events")
    return events


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _settle(path: Path, result: FileResult) -> str:
    """Record refused items beside the file, then remove it or keep only its pending items."""
    if result.refused:
        refused_path = path.with_name(path.name + REFUSED_SUFFIX)
        earlier = orjson.loads(refused_path.read_bytes()) if refused_path.exists() else []
        _write_atomic(refused_path, orjson.dumps(earlier + result.refused, option=orjson.OPT_INDENT_2))
    if not result.pending:
        path.unlink()
        return "removed"
    if path.suffix == SDK_SUFFIX:
        data = b"".join(orjson.dumps(event) + b"\n" for event in result.pending)
    else:
        data = orjson.dumps(result.pending)
    _write_atomic(path, data)
    return f"kept with {len(result.pending)} event(s) to retry ({result.reason})"


def replay(directory: Path, base_url: str, token: str, *, timeout: float = 30.0, out: TextIO = sys.stdout) -> int:
    """Replay every spool file in `directory`; 0 when all are settled, 1 if some remain."""
    go_files = sorted(p for p in directory.glob(GO_PATTERN) if not p.name.endswith(REFUSED_SUFFIX))
    sdk_files: list[Path] = []
    spool = Spool(directory) if any(directory.glob(f"*{SDK_SUFFIX}")) else None
    if spool is not None:
        if spool.acquire():
            sdk_files = spool.pending()
        else:
            print(f"{directory}: an SDK client is replaying its spool here; skipping *{SDK_SUFFIX}", file=out)
    transport = HttpTransport(base_url, token, timeout=timeout)
    remaining = 0
    try:
        for path in [*go_files, *sdk_files]:
            try:
                events = _read_events(path)
            except (OSError, ValueError) as exc:
                print(f"{path.name}: unreadable, left as is: {exc}", file=out)
                remaining += 1
                continue
            print(f"{path.name}: {len(events)} event(s)", file=out)
            result = FileResult()
            if events:
                send(transport, events, result, timeout, out)
            outcome = _settle(path, result)
            refused = f", {len(result.refused)} refused for good (in {path.name}{REFUSED_SUFFIX})"
            print(f"{path.name}: {len(result.stored)} stored{refused if result.refused else ''}; {outcome}", file=out)
            remaining += bool(result.pending)
    except StopReplay as exc:
        print(f"stopped: the gateway refused the token ({exc}); nothing else was sent", file=out)
        return 2
    finally:
        transport.close()
        if spool is not None:
            spool.release()
    return 1 if remaining else 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("spool", help="replay clients' spooled batches")
    actions = parser.add_subparsers(dest="spool_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "replay",
        help="send the Go client's argus-spool-*.json and the SDK's *.ndjson files in DIR; "
        "remove each once every event is stored or refused for good",
    )
    run.add_argument("directory", type=Path, metavar="DIR")
    run.add_argument("--url", default=os.environ.get("ARGUS_URL", "http://127.0.0.1:3001"),
                     help="gateway base URL (default ARGUS_URL or http://127.0.0.1:3001)")  # fmt: skip
    run.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    token = os.environ.get("ARGUS_TOKEN") or os.environ.get("ARGUS_AUTH_TOKEN")
    if not token:
        print("argus spool replay: set ARGUS_TOKEN to a token with the ingest scope", file=sys.stderr)
        return 2
    return replay(args.directory, args.url, token, timeout=args.timeout)
