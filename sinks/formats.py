"""Output formats every sink offers (`format=` in its URL): `record`, the committed record itself
(every field, in RECORD_FIELDS order: it verifies on its own), or `ocsf`, an OCSF API Activity
event (sinks/ocsf.py). The syslog sink adds `cef` (sinks/syslog_format.py); its `json` is `record`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from argus.runtime.settings import ConfigError
from sinks.base import Record
from sinks.ocsf import to_ocsf

Render = Callable[[Record], dict[str, Any]]


def _record(record: Record) -> dict[str, Any]:
    return record


RENDERS: dict[str, Render] = {"record": _record, "ocsf": to_ocsf}


def render_from_url(url: str) -> Render:
    """The `format=` of a sink URL (default `record`); an unknown one stops start-up."""
    name = parse_qs(urlsplit(url).query).get("format", ["record"])[-1]
    if name not in RENDERS:
        raise ConfigError(f"sink URL {url!r}: format must be one of {sorted(RENDERS)}")
    return RENDERS[name]
