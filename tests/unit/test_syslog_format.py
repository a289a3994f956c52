"""RFC 5424 / RFC 6587 / CEF rendering of committed records (sinks/syslog_format.py)."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from argus.runtime.settings import ConfigError
from sinks import syslog_format
from sinks.syslog import SyslogConfig

RECORD: dict[str, Any] = {
    "id": "0190f3c2-0000-7000-8000-000000000001", "timestamp": "2026-03-04T05:06:07.123456Z", "traceId": None,
    "eventType": "DATA_FETCH", "action": "READ", "status": "FAILURE", "actorType": "SERVICE",
    "actorId": 'svc "a"]', "targetType": "RESOURCE", "targetId": "doc=1|x", "message": "hi\nthere\\",
    "metadata": '{"a":1}', "signature": None, "signatureAlgorithm": None, "publicKeyId": None,
    "signatureFormat": None, "source": "direct", "receivedAt": "2026-03-04T05:06:08.000001Z", "seq": 7,
    "previousHash": "00" * 32, "currentHash": "ab" * 32,
}  # fmt: skip


def test_rfc5424_header_structured_data_and_octet_counting() -> None:
    msg = syslog_format.message(RECORD, payload="x", hostname="host one", app="argus", facility=13)
    text = msg.decode()
    assert text.startswith("<108>1 2026-03-04T05:06:07.123456Z host_one argus - DATA_FETCH ")
    assert '[argus@32473 id="0190f3c2-0000-7000-8000-000000000001" actorId="svc \\"a\\"\\]" seq="7"]' in text
    assert text.endswith(" \ufeffx")
    framed = syslog_format.octet_counted(msg)
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(rest) == len(msg) and rest == msg
    success = syslog_format.message({**RECORD, "status": "SUCCESS", "timestamp": "bad"}, payload="x",
                                    hostname="h", app="a", facility=4)  # fmt: skip
    assert success.startswith(b"<38>1 - h a - DATA_FETCH ")


def test_json_payload_is_the_exact_record() -> None:
    assert orjson.loads(syslog_format.json_payload(RECORD)) == RECORD


def test_cef_maps_every_field_and_escapes() -> None:
    cef = syslog_format.cef_payload(RECORD)
    *header, extension = cef.split("|", 7)  # a pipe needs no escape in the extension
    assert header == ["CEF:0", "Argus", "Argus Audit Log", "1", "DATA_FETCH", "READ RESOURCE", "6"]
    pairs = dict(re.findall(r"(\w+)=((?:[^\\= ]|\\.| (?!\w+=))*)", extension))
    assert pairs["externalId"] == RECORD["id"] and pairs["rt"] == "1772600767123"
    assert pairs["act"] == "READ" and pairs["outcome"] == "FAILURE" and pairs["suser"] == 'svc "a"]'
    assert pairs["duid"] == "doc\\=1|x" and pairs["msg"] == "hi\\nthere\\\\"
    assert (pairs["cs3Label"], pairs["cs3"], pairs["cs4"]) == ("seq", "7", RECORD["currentHash"])
    rest = orjson.loads(pairs["flexString1"].replace("\\=", "=").replace("\\\\", "\\"))
    assert rest == {"metadata": '{"a":1}', "source": "direct", "receivedAt": RECORD["receivedAt"]}


@pytest.mark.parametrize("url", ["syslog+udp://h:1", "syslog+tcp://h", "syslog+tcp://h:1?format=xml",
                                 "syslog+tcp://h:1?facility=24", "syslog+tcp://h:1?bogus=1"])  # fmt: skip
def test_bad_urls_stop_start_up(url: str) -> None:
    with pytest.raises(ConfigError):
        SyslogConfig.from_url(url)
