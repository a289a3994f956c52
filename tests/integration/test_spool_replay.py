"""`argus spool replay DIR` sends the reference Go client's and the SDK's spool files to a real
gateway, prints per-item results and removes a file only once every item is settled."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestServer

from argus.runtime.settings import load_settings
from argus_commands.spool_replay import replay
from argus_spec.uuid7 import uuid7
from ingest_gateway.app import init
from tests.integration.harness import TOKEN, Stack, make_event, wait_for


@pytest.fixture
async def gateway_url(stack: Stack) -> AsyncIterator[str]:
    server = TestServer(init(load_settings(stack.settings_env())), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _id_less(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "id"}


async def _replay(directory: Path, url: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await asyncio.to_thread(replay, directory, url, TOKEN, timeout=30, out=out)
    return code, out.getvalue()


async def test_replay_sends_both_spool_formats_and_clears_only_what_is_settled(
    stack: Stack, gateway_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    go_batch = [_id_less(make_event("svc-go", i)) for i in range(3)]
    go_mixed = [_id_less(make_event("svc-go", i)) for i in range(3, 5)] + [{**make_event("svc-go", 5), "status": "?"}]
    (spool / "argus-spool-1796090000000000000-0a1b2c3d.json").write_bytes(orjson.dumps(go_batch))
    (spool / "argus-spool-1796090000000000001-4e5f6a7b.json").write_bytes(orjson.dumps(go_mixed))
    sdk_events = [make_event("svc-sdk", i, id=uuid7()) for i in range(2)]
    (spool / "01796090000000000002-4242.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in sdk_events))

    unreachable = "http://127.0.0.1:9"  # nothing listens: every item stays for later
    code, output = await _replay(spool, unreachable)
    assert code == 1 and "network error" in output
    assert len(list(spool.glob("argus-spool-*.json"))) == 2 and len(list(spool.glob("*.ndjson"))) == 1

    code, output = await _replay(spool, gateway_url)
    assert code == 0, output
    assert output.count(": stored ") == 7 and "refused for good (400) status:" in output
    assert sorted(p.name for p in spool.iterdir() if not p.name.startswith(".") and p.name != "spool.lock") == [
        "argus-spool-1796090000000000001-4e5f6a7b.json.refused.json"
    ]
    [refused] = orjson.loads((spool / "argus-spool-1796090000000000001-4e5f6a7b.json.refused.json").read_bytes())
    assert refused["status"] == 400 and refused["event"] == go_mixed[2]

    stack.start_processor()
    wait_for(lambda: stack.stored_count() == 7, 90, lambda: f"7 stored\n{stack.logs()}")
    produced = stack.end_offsets(stack.topic)

    # the Go client spooled a batch whose first attempt had in fact arrived: replaying it stores nothing new
    (spool / "argus-spool-1796090000000000003-8c9d0e1f.json").write_bytes(orjson.dumps(go_batch))
    code, output = await _replay(spool, gateway_url)
    assert code == 0 and output.count(": stored ") == 3, output
    assert not [p for p in spool.glob("argus-spool-*.json") if not p.name.endswith(".refused.json")]
    assert len(list(spool.glob("*.refused.json"))) == 1  # the earlier refusal, not sent again
    assert stack.end_offsets(stack.topic) == produced and stack.stored_count() == 7
    stored = {row.target_id for row in stack.query("SELECT target_id FROM audit_records")}
    assert stored == {e["targetId"] for e in [*go_batch, *go_mixed[:2], *sdk_events]}
