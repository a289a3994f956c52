"""The syslog sink's CEF payload over TLS, parsed by the real rsyslog (deploy/local/rsyslog.sh), and
TLS that refuses a server it cannot verify."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from argus_spec.uuid7 import uuid7
from sinks.syslog import SyslogConfig, SyslogSink
from tests.integration.harness import Stack, make_event, wait_for
from tests.integration.sink_kinds import (
    SYSLOG_RELP,
    SYSLOG_RELPS,
    SYSLOG_TCP,
    SYSLOG_TLS,
    SinkKind,
    syslog_lines,
    syslog_url,
)


def _records(stack: Stack, count: int) -> list[dict[str, Any]]:
    records = []
    for i in range(count):
        event = make_event(f"cef-{stack.name}", i, id=str(uuid7()), message=f"line one\nline=two {i}")
        records.append({**event, "traceId": None, "signature": None, "signatureAlgorithm": None,
                        "publicKeyId": None, "signatureFormat": None, "source": "direct",
                        "receivedAt": event["timestamp"], "seq": i + 1, "previousHash": "00" * 32,
                        "currentHash": f"{i:064x}", "metadata": '{"k":1}'})  # fmt: skip
    return records


async def test_cef_over_tls_arrives_in_order_and_parses(tmp_path: Path, unique_name: str) -> None:
    stack = Stack(kafka="", db_url="", name=unique_name, tmp=tmp_path)
    sink = SyslogSink("siem", SyslogConfig.from_url(syslog_url(stack, "tls", "cef")))
    records = _records(stack, 300)
    await sink.send(records[:150])
    await sink.send(records[150:])
    wait_for(lambda: len(syslog_lines(stack, "tls")) >= len(records), 30, "300 CEF messages at rsyslog")
    lines = syslog_lines(stack, "tls")
    assert len(lines) == len(records)
    for record, (pri, _time, _host, app, _pid, msgid, sd, msg) in zip(records, lines, strict=True):
        cef = msg.removeprefix("\ufeff")
        assert cef.startswith(f"CEF:0|Argus|Argus Audit Log|1|DATA_FETCH|{record['action']} RESOURCE|")
        assert f"externalId={record['id']} " in cef and f"cs3={record['seq']} cs3Label=seq" in cef
        assert f"msg={record['message'].replace('=', chr(92) + '=').replace(chr(10), chr(92) + 'n')} " in cef
        assert (app, msgid) == (f"t{unique_name}", "DATA_FETCH") and f'seq="{record["seq"]}"' in sd
        assert int(pri) % 8 in (4, 6)


async def test_tls_refuses_a_server_it_cannot_verify(tmp_path: Path, unique_name: str) -> None:
    stack = Stack(kafka="", db_url="", name=unique_name, tmp=tmp_path)
    url = syslog_url(stack, "tls").split("&ca=")[0]  # the system CAs do not know our local CA
    sink = SyslogSink("siem", SyslogConfig.from_url(url))
    with pytest.raises(ssl.SSLCertVerificationError):
        await sink.send(_records(stack, 1))
    assert syslog_lines(stack, "tls") == []


@pytest.mark.parametrize("kind", [SYSLOG_TCP, SYSLOG_TLS, SYSLOG_RELP, SYSLOG_RELPS], ids=lambda kind: kind.name)
async def test_a_record_as_large_as_the_gateway_allows_arrives_whole(tmp_path: Path, unique_name: str,
                                                                     kind: SinkKind) -> None:  # fmt: skip
    """A default-limit event (ARGUS_MAX_EVENT_BYTES, 1.25 MiB) makes a syslog message over rsyslog's
    default octet-counted frame limit (200,000 bytes): it must arrive whole, not garbled."""
    stack = Stack(kafka="", db_url="", name=unique_name, tmp=tmp_path)
    sink = SyslogSink("siem", SyslogConfig.from_url(kind.url(stack)))
    record = {**_records(stack, 1)[0], "message": "m" * (1280 * 1024 - 4096)}
    await sink.send([record])
    wait_for(lambda: kind.delivered(stack) != [], 30, f"the large record at rsyslog over {kind.name}")
    [delivered] = kind.delivered(stack)
    assert (delivered["id"], delivered["message"]) == (record["id"], record["message"])
