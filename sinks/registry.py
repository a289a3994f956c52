"""Sinks by URL, so configuration holds only strings (`configs/sinks.yaml`).

Every sink takes `format=record` (default) or `format=ocsf` (sinks/formats.py); syslog also `cef`.

kafka:///TOPIC     committed records to TOPIC on the processor's broker (empty = ARGUS_COMMITTED_TOPIC)
console://stdout   JSON lines on stdout (console://stderr for stderr)
s3://BUCKET/PREFIX?endpoint=..&mode=COMPLIANCE&retention_days=N   WORM objects (sinks/s3_config.py)
syslog+tcp://HOST:PORT?format=json|cef, syslog+tls://HOST:PORT?ca=..   RFC 5424 to a SIEM (sinks/syslog.py)
syslog+relp://HOST:PORT, syslog+relps://HOST:PORT?ca=..   the same over RELP, acknowledged per message
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from argus.kafka.producer import AsyncProducer
from argus.runtime.settings import ConfigError, Settings
from sinks.base import Sink
from sinks.console import ConsoleSink
from sinks.formats import render_from_url
from sinks.kafka_topic import KafkaTopicSink
from sinks.syslog import SyslogConfig, SyslogSink

SinkFactory = Callable[[str, str, Settings, AsyncProducer], Sink]


def _kafka(name: str, url: str, settings: Settings, producer: AsyncProducer) -> Sink:
    topic = urlsplit(url).path.lstrip("/") or settings.committed_topic
    return KafkaTopicSink(name, producer, topic, render_from_url(url))


def _console(name: str, url: str, _settings: Settings, _producer: AsyncProducer) -> Sink:
    target = urlsplit(url).netloc or "stdout"
    if target not in {"stdout", "stderr"}:
        raise ConfigError(f"ARGUS_SINKS_CONFIG: sink {name!r}: console target must be stdout or stderr")
    return ConsoleSink(name, sys.stdout if target == "stdout" else sys.stderr, render_from_url(url))


def _s3(name: str, url: str, _settings: Settings, _producer: AsyncProducer) -> Sink:
    from sinks.s3 import S3Sink  # boto3 is only needed where an S3 sink is configured
    from sinks.s3_config import S3Config

    return S3Sink(name, S3Config.from_url(url))


def _syslog(name: str, url: str, _settings: Settings, _producer: AsyncProducer) -> Sink:
    return SyslogSink(name, SyslogConfig.from_url(url))


SCHEMES: dict[str, SinkFactory] = {
    "kafka": _kafka,
    "console": _console,
    "s3": _s3,
    "syslog+tcp": _syslog,
    "syslog+tls": _syslog,
    "syslog+relp": _syslog,
    "syslog+relps": _syslog,
}


def load_sinks(settings: Settings, producer: AsyncProducer) -> list[Sink]:
    """Build the enabled sinks listed in ARGUS_SINKS_CONFIG; an unknown scheme stops start-up."""
    path = Path(settings.sinks_config)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"ARGUS_SINKS_CONFIG: cannot read {path}: {exc}") from exc
    entries = doc.get("sinks", []) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"ARGUS_SINKS_CONFIG: {path} must hold a list under 'sinks'")
    sinks: list[Sink] = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("url"):
            raise ConfigError(f"ARGUS_SINKS_CONFIG: every sink needs a name and a url ({entry!r})")
        if entry.get("enabled", True) is False:
            continue
        scheme = urlsplit(str(entry["url"])).scheme
        factory = SCHEMES.get(scheme)
        if factory is None:
            raise ConfigError(f"ARGUS_SINKS_CONFIG: sink {entry['name']!r}: unknown scheme {scheme!r}")
        sinks.append(factory(str(entry["name"]), str(entry["url"]), settings, producer))
    return sinks
