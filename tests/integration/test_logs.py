"""JSON logs end to end: a gateway and a processor write one object per line, the caller's
traceparent reaches the processor's line for that event, and no secret reaches any log."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from bench import free_port
from tests.integration.harness import Stack, make_event, wait_for

TOKENS = {"billing": "billing-ingest-token-7d1f0c", "auditor": "auditor-read-token-93be21"}
TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACE_OF_DEAD_LETTER = "5b8efff798038103d269b633813fc60c"
REQUEST_ID = "req-logs-test-1"


def _post(url: str, body: Any, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a stderr log, each of which must be one JSON object."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    for entry in parsed:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    return parsed


def test_json_logs_trace_ids_and_no_secrets(stack: Stack, tmp_path: Path) -> None:
    stack.extra_env.update(
        {
            "ARGUS_LOG_FORMAT": "json",
            "ARGUS_AUTH_TOKENS": ",".join(f"{name}={token}" for name, token in TOKENS.items()),
        }
    )
    port = free_port()
    logs: dict[str, tuple[Path, Path]] = {}
    for name, command in {"gateway": ["gateway", "--port", str(port)], "processor": ["processor"]}.items():
        out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        logs[name] = (out, err)
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            stack.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "argus_commands", "--log-level", "debug", *command],
                    env=stack.env(),
                    stdout=stdout,
                    stderr=stderr,
                )
            )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_for(ready, 60, lambda: logs["gateway"][1].read_text()[-3000:])
    event = make_event("svc-logged", 1)
    traceparent = f"00-{TRACE}-b7ad6b7169203331-01"
    auth = {"Authorization": f"Bearer {TOKENS['billing']}", "traceparent": traceparent, "X-Request-Id": REQUEST_ID}
    assert _post(f"{url}/api/audit-logs", event, auth) == 201
    assert _post(f"{url}/api/audit-logs", event, {"Authorization": "Bearer not-a-token-but-long"}) == 401
    producer = Producer({"bootstrap.servers": stack.kafka})  # a message the processor must refuse
    producer.produce(
        stack.topic, b"{not json", key=b"k", headers=[("traceparent", f"00-{TRACE_OF_DEAD_LETTER}-b7ad6b7169203331-01")]
    )
    assert producer.flush(30) == 0

    def processor_lines() -> list[dict[str, Any]]:
        return _json_lines(logs["processor"][1])

    def line_with(lines: list[dict[str, Any]], message: str, trace: str) -> dict[str, Any] | None:
        return next((e for e in lines if e["message"].startswith(message) and e.get("trace_id") == trace), None)

    wait_for(
        lambda: (
            line_with(processor_lines(), "event committed", TRACE) is not None
            and line_with(processor_lines(), "event dead-lettered", TRACE_OF_DEAD_LETTER) is not None
        ),
        90,
        lambda: logs["processor"][1].read_text()[-4000:],
    )
    committed = line_with(processor_lines(), "event committed", TRACE)
    assert committed is not None
    assert committed["actorId"] == "svc-logged"
    assert isinstance(committed["partition"], int) and isinstance(committed["offset"], int)
    dead = line_with(processor_lines(), "event dead-lettered", TRACE_OF_DEAD_LETTER)
    assert dead is not None and dead["level"] == "WARNING" and "offset" in dead
    stored = stack.query("SELECT trace_id, source FROM audit_records")
    assert [tuple(row) for row in stored] == [(None, "billing")]  # the trace id never enters the record

    stack.stop_all()
    gateway = _json_lines(logs["gateway"][1])
    access = [e for e in gateway if e.get("request_id") == REQUEST_ID]
    assert access, "no gateway line for the request"
    assert all(e["trace_id"] == TRACE and e["token"] == "billing" for e in access)
    everything = "".join(path.read_text() for pair in logs.values() for path in pair)
    for secret in (*TOKENS.values(), stack.db_url, "argus:argus@"):
        assert secret not in everything
