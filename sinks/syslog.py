"""Syslog sink for SIEMs: RFC 5424 messages (sinks/syslog_format.py) over TCP with octet-counting
framing (RFC 6587), or over TLS (RFC 5425).

    syslog+tcp://HOST:PORT?format=json|cef&app=argus&facility=13&hostname=H
    syslog+tls://HOST:PORT?ca=CA.pem&cert=CLIENT.pem&key=CLIENT.key&servername=NAME&...

Plain syslog over TCP has no acknowledgement: bytes a receiver never read are lost silently when
it restarts. So each send is one connection: write every message, half-close (TCP FIN, or TLS
close_notify), and wait for the receiver to close its side. A receiver closes only after reading
everything before our close, so a clean close means it has every message; a reset, a timeout or
a refused connection raises, and the durable lane sends the batch again (at least once).
Over TLS that holds only while the receiver runs: rsyslog stopping mid-connection drops the last
record it read and still closes cleanly (docs/sinks.md).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from argus.config import ConfigError
from sinks import syslog_format
from sinks.base import Record

TIMEOUT_SECONDS = 30.0
_OPTIONS = {"format", "app", "facility", "hostname", "ca", "cert", "key", "servername"}


@dataclass(frozen=True)
class SyslogConfig:
    host: str
    port: int
    tls: bool
    payload: str = "json"
    app: str = "argus"
    facility: int = 13
    hostname: str = ""
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    servername: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SyslogConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("syslog+tcp", "syslog+tls") or not parts.hostname or not parts.port:
            raise ConfigError(f"syslog sink URL must be syslog+tcp://HOST:PORT or syslog+tls://HOST:PORT, not {url!r}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if set(query) - _OPTIONS:
            raise ConfigError(f"syslog sink URL {url!r}: unknown option(s) {sorted(set(query) - _OPTIONS)}")
        payload = query.get("format", "json")
        if payload not in syslog_format.FORMATS:
            raise ConfigError(f"syslog sink URL {url!r}: format must be one of {syslog_format.FORMATS}")
        facility = int(query.get("facility", 13))
        if not 0 <= facility <= 23:
            raise ConfigError(f"syslog sink URL {url!r}: facility must be 0..23")
        return cls(parts.hostname, parts.port, parts.scheme == "syslog+tls", payload, query.get("app", "argus"),
                   facility, query.get("hostname") or socket.gethostname(), query.get("ca"), query.get("cert"),
                   query.get("key"), query.get("servername"))  # fmt: skip

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca)
        if self.cert:
            context.load_cert_chain(self.cert, self.key)
        return context


class SyslogSink:
    def __init__(self, name: str, config: SyslogConfig) -> None:
        self.name = name
        self.config = config
        self._render = syslog_format.PAYLOADS[config.payload]
        self._context = config.tls_context() if config.tls else None

    def frames(self, records: list[Record]) -> bytes:
        c = self.config
        return b"".join(
            syslog_format.octet_counted(
                syslog_format.message(r, payload=self._render(r), hostname=c.hostname, app=c.app, facility=c.facility)
            )
            for r in records
        )

    async def send(self, records: list[Record]) -> None:
        if records:
            await asyncio.to_thread(self._deliver, self.frames(records))

    def _deliver(self, data: bytes) -> None:
        with socket.create_connection((self.config.host, self.config.port), timeout=TIMEOUT_SECONDS) as raw:
            if self._context is None:
                raw.sendall(data)
                raw.shutdown(socket.SHUT_WR)
                _await_close(raw)
                return
            with self._context.wrap_socket(raw, server_hostname=self.config.servername or self.config.host) as tls:
                tls.sendall(data)
                try:  # our close_notify, then the receiver's
                    plain = tls.unwrap()
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                    return  # a bare TCP close after our close_notify says the same
                _await_close(plain)

    async def close(self) -> None:
        return None


def _await_close(sock: socket.socket) -> None:
    """Read until the receiver closes its side (ConnectionResetError if it dropped our bytes)."""
    while sock.recv(4096):
        pass
