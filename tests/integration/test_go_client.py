"""The reference Go client's wire format, spoken by a real Go program, through the whole pipeline.

`tests/vectors/goclient` (Go standard library only) builds events the way LSFLK/argus pkg/audit
does - no id, `message` as []byte (base64 on the wire), metadata from native Go values - signs them
with v1 (RS256 and EdDSA), and posts them in JSON-array bulks of 20, judging success like that
client (200/201/207, per-item errors unread). The classes of issue 11: `|` in free text (ambiguous
v1 strings), float64 -0, keys at or above U+E000 with integers beyond 2**53 and 64 bits, 300 KiB
messages. Every event must be stored exactly as sent and verify with `argus verify --signatures`.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from argus_spec import exactjson
from argus_spec.canonical import signing_bytes_v1, v1_ambiguity
from bench import free_port
from tests.integration.harness import TOKEN, Stack, chain_problems, keys_config, wait_for
from tests.integration.test_client_e2e import GatewayProcess

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
GO_CLIENT = VECTORS / "goclient"
KEYS = VECTORS / "signatures"
ACTOR = "go-client"


def _go() -> str:
    candidates = ("/usr/local/go/bin/go", "/usr/lib/go/bin/go")
    found = shutil.which("go") or next((p for p in candidates if Path(p).exists()), None)
    if found is None:
        pytest.fail("this test needs the Go toolchain (deploy/local/install.sh installs it)")
    return found


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    keys = {"ed-2026": "test-ed25519-2026", "rsa-2026": "test-rsa-2026"}
    return {"ARGUS_KEYS_CONFIG": str(keys_config(tmp_path, keys))}


def _go_cache() -> str:
    """Go's build cache: the configured one, else one shared by runs (CI may run without $HOME)."""
    return os.environ.get("GOCACHE") or str(Path(tempfile.gettempdir()) / "argus-go-build-cache")


def _run_go_client(url: str, tmp_path: Path) -> dict[str, Any]:
    binary = tmp_path / "goclient"
    build = subprocess.run(  # standard library only: nothing to download; never fetch a toolchain
        [_go(), "build", "-o", str(binary), "."], cwd=GO_CLIENT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "GOCACHE": _go_cache()},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    run = subprocess.run(
        [str(binary), "-url", url, "-token", TOKEN, "-keys", str(KEYS), "-actor", ACTOR],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result: dict[str, Any] = exactjson.loads(run.stdout.encode())  # -0 and big integers as Go wrote them
    return result


def _processor_metric(port: int, name: str) -> float:
    """One unlabelled series of the processor's /metrics; a missing series fails the test."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = [float(line.split()[1]) for line in text.splitlines() if line.startswith(name + " ")]
    assert values, f"{name} is not exported"
    return values[0]


def test_reference_go_client_events_are_all_stored_and_verify(stack: Stack, tmp_path: Path) -> None:
    metrics_port = free_port()
    stack.extra_env["ARGUS_PROCESSOR_METRICS_PORT"] = str(metrics_port)
    gateway = GatewayProcess(stack).start()
    try:
        stack.start_processor()
        result = _run_go_client(gateway.url, tmp_path)
    finally:
        gateway.stop()
    sent: list[dict[str, Any]] = result["events"]
    assert result["statuses"] == [201] * len(result["statuses"]), result["statuses"]  # no item refused
    assert len(sent) >= 40 and len(result["statuses"]) == -(-len(sent) // 20)  # bulks of 20, as the client sends

    wait_for(lambda: stack.stored_count() == len(sent), 180, lambda: f"{len(sent)} stored\n{stack.logs()}")
    records = stack.records()
    assert chain_problems(records) == []
    assert [r["actorId"] for r in records] == [ACTOR] * len(sent)
    rows = {row.seq: row for row in stack.query("SELECT seq, signature_ambiguous FROM audit_records")}
    for record, event in zip(records, sent, strict=True):  # one actor, one partition: stored in send order
        for name in ("timestamp", "eventType", "action", "status", "actorType", "targetType", "targetId",
                     "message", "signature", "signatureAlgorithm", "publicKeyId"):  # fmt: skip
            assert record[name] == event.get(name), name
        stored_metadata = exactjson.loads(record["metadata"].encode())
        assert stored_metadata == event["metadata"]
        stored_event = {**record, "metadata": stored_metadata}
        assert signing_bytes_v1(stored_event) == signing_bytes_v1(event)  # the bytes Go signed, rebuilt from storage
        assert rows[record["seq"]].signature_ambiguous == (v1_ambiguity(event) is not None)
    ambiguous = sum(1 for e in sent if v1_ambiguity(e))
    name = "argus_signatures_ambiguous_total"  # counted right after the commit that stored them
    wait_for(lambda: _processor_metric(metrics_port, name) == ambiguous, 30, f"{name} == {ambiguous}")

    by_class = {
        "pipes": [e for e in sent if v1_ambiguity(e)],
        "negative zero": [e for e in sent if math.copysign(1, e["metadata"].get("delta", 1)) < 0],
        "big ints": [e for e in sent if "😀" in e["metadata"]],
        "300 KiB": [e for e in sent if e.get("message") and len(base64.b64decode(e["message"])) == 300 * 1024],
    }
    assert {name: len(events) >= 2 for name, events in by_class.items()} == dict.fromkeys(by_class, True)
    assert any(r["metadata"].find('"u64":18446744073709551615') >= 0 for r in records)
    assert any(r["metadata"].find('"big":1000000000000000000000000000000') >= 0 for r in records)
    assert any(r["metadata"].find('"delta":-0') >= 0 for r in records)

    verify = subprocess.run(
        [sys.executable, "-m", "argus_commands", "verify", "--database-url", stack.db_url, "--signatures",
         "--keys", str(stack.extra_env["ARGUS_KEYS_CONFIG"]), "--json"],
        capture_output=True, text=True, timeout=300, env=stack.env(),
    )  # fmt: skip
    report = json.loads(verify.stdout)
    assert verify.returncode == 0, report
    assert report.get("breaks", []) == [], report
