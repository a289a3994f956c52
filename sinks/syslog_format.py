"""Committed records as RFC 5424 syslog messages, with a JSON or a CEF payload (docs/sinks.md has
the field mapping). Pure functions: the transport is sinks/syslog.py.

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [argus@32473 id=".." actorId=".." seq=".."] BOM PAYLOAD

PRI is facility * 8 + severity: facility 13 ("log audit") by default, severity 6 (informational)
for SUCCESS and 4 (warning) for anything else. TIMESTAMP is the event's own time when it fits
RFC 5424 (at most 6 fraction digits), else `-`. MSGID is the eventType (printable ASCII, 32 chars).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from sinks.base import Record
from sinks.ocsf import epoch_millis, to_ocsf

FORMATS = ("json", "cef", "ocsf")
SD_ID = "argus@32473"  # 32473: the private enterprise number RFC 5612 reserves for documentation
BOM = "\ufeff"
SUCCESS_SEVERITY, OTHER_SEVERITY = 6, 4
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$")
_PRINTABLE = re.compile(r"[^\x21-\x7e]")


def _header_field(value: Any, limit: int) -> str:
    """RFC 5424 header fields are printable US-ASCII without spaces; `-` when empty."""
    text = _PRINTABLE.sub("_", str(value or ""))[:limit]
    return text or "-"


def _sd_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def message(record: Record, *, payload: str, hostname: str, app: str, facility: int) -> bytes:
    """One RFC 5424 message (without framing)."""
    severity = SUCCESS_SEVERITY if record.get("status") == "SUCCESS" else OTHER_SEVERITY
    timestamp = str(record.get("timestamp") or "")
    timestamp = timestamp if _TIME.match(timestamp) else "-"
    sd = f'[{SD_ID} id="{_sd_value(record["id"])}" actorId="{_sd_value(record["actorId"])}" seq="{record["seq"]}"]'
    head = (f"<{facility * 8 + severity}>1 {timestamp} {_header_field(hostname, 255)} {_header_field(app, 48)} - "
            f"{_header_field(record.get('eventType'), 32)} {sd} ")  # fmt: skip
    return (head + BOM + payload).encode()


def octet_counted(msg: bytes) -> bytes:
    """RFC 6587 octet-counting framing: MSG-LEN SP SYSLOG-MSG."""
    return b"%d %s" % (len(msg), msg)


def json_payload(record: Record) -> str:
    """The committed record exactly as the Kafka topic carries it (RECORD_FIELDS order)."""
    return orjson.dumps(record).decode()


# -- CEF (ArcSight Common Event Format, version 0) --------------------------------------------------

CEF_VENDOR, CEF_PRODUCT, CEF_VERSION = "Argus", "Argus Audit Log", "1"
#: CEF extension key -> record field. Keys are ArcSight's dictionary names where one fits
#: (suser, duid, act, outcome, msg, rt, externalId, cat), custom strings (csN + csNLabel) otherwise.
CEF_FIELDS = {
    "externalId": "id",
    "rt": "timestamp",  # as epoch milliseconds
    "cat": "eventType",
    "act": "action",
    "outcome": "status",
    "suser": "actorId",
    "duid": "targetId",
    "msg": "message",
}
CEF_CUSTOM = {  # csN: (label, record field)
    "cs1": ("actorType", "actorType"),
    "cs2": ("targetType", "targetType"),
    "cs3": ("seq", "seq"),
    "cs4": ("currentHash", "currentHash"),
    "cs5": ("previousHash", "previousHash"),
    "cs6": ("traceId", "traceId"),
}
CEF_REST = ("metadata", "source", "receivedAt", "signature", "signatureAlgorithm", "publicKeyId", "signatureFormat")


def _cef_header(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cef_ext(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")


def cef_payload(record: Record) -> str:
    """CEF:0|Argus|Argus Audit Log|1|eventType|action targetType|severity|extension. The fields
    without a CEF key (metadata, source, receivedAt, signature...) go as one JSON object in
    `flexString1` (label `argusRecord`), so nothing of the record is lost."""
    severity = 3 if record.get("status") == "SUCCESS" else 6
    record = {**record, "timestamp": epoch_millis(record.get("timestamp"))}
    name = f"{record.get('action') or ''} {record.get('targetType') or ''}".strip()
    parts = [f"{key}={_cef_ext(record[field])}" for key, field in CEF_FIELDS.items() if record.get(field) is not None]
    for key, (label, field) in CEF_CUSTOM.items():
        if record.get(field) is not None:
            parts += [f"{key}={_cef_ext(record[field])}", f"{key}Label={label}"]
    rest = {field: record.get(field) for field in CEF_REST if record.get(field) is not None}
    parts += [f"flexString1={_cef_ext(rest)}", "flexString1Label=argusRecord"]
    header = "|".join(_cef_header(v) for v in ("CEF:0", CEF_VENDOR, CEF_PRODUCT, CEF_VERSION,
                                                record.get("eventType") or "-", name or "-", severity))  # fmt: skip
    return f"{header}|{' '.join(parts)}"


def ocsf_payload(record: Record) -> str:
    """The OCSF API Activity event (sinks/ocsf.py) as JSON."""
    return orjson.dumps(to_ocsf(record)).decode()


PAYLOADS = {"json": json_payload, "cef": cef_payload, "ocsf": ocsf_payload}
