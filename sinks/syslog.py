"""Syslog sink for SIEMs: RFC 5424 messages (sinks/syslog_format.py) over TCP with octet-counting
framing (RFC 6587), over TLS (RFC 5425), or over RELP, acknowledged per message (sinks/relp.py),
plain or in TLS.

    syslog+tcp://HOST:PORT?format=json|cef&app=argus&facility=13&hostname=H
    syslog+tls://HOST:PORT?ca=CA.pem&cert=CLIENT.pem&key=CLIENT.key&servername=NAME&...
    syslog+relp://HOST:PORT?...     syslog+relps://HOST:PORT?ca=...&cert=...&key=...

Plain syslog over TCP has no acknowledgement: bytes a receiver never read are lost silently when
it restarts. So each send is one connection: write every message, half-close (TCP FIN, or TLS
close_notify), and wait for the receiver to close its side. A receiver closes only after reading
everything before our close, so a clean close means it has every message; a reset, a timeout or
a refused connection raises, and the durable lane sends the batch again (at least once).
Over TLS that holds only while the receiver runs: rsyslog stopping mid-connection drops the last
record it read and still closes cleanly (docs/sinks.md). RELP has no such gap: each message is
delivered when the receiver answers it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from argus.runtime.settings import ConfigError
from sinks import relp, syslog_format
from sinks.base import Record

TIMEOUT_SECONDS = 30.0
_OPTIONS = {"format", "app", "facility", "hostname", "ca", "cert", "key", "servername"}
#: scheme -> (RELP rather than octet-counted frames, over TLS)
SCHEMES = {
    "syslog+tcp": (False, False),
    "syslog+tls": (False, True),
    "syslog+relp": (True, False),
    "syslog+relps": (True, True),
}


@dataclass(frozen=True)
class SyslogConfig:
    host: str
    port: int
    tls: bool
    relp: bool = False
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
        if parts.scheme not in SCHEMES or not parts.hostname or not parts.port:
            raise ConfigError(f"syslog sink URL must be one of {sorted(SCHEMES)} ://HOST:PORT, not {url!r}")
        relp, tls = SCHEMES[parts.scheme]
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if set(query) - _OPTIONS:
            raise ConfigError(f"syslog sink URL {url!r}: unknown option(s) {sorted(set(query) - _OPTIONS)}")
        payload = query.get("format", "json")
        if payload not in syslog_format.FORMATS:
            raise ConfigError(f"syslog sink URL {url!r}: format must be one of {syslog_format.FORMATS}")
        facility = int(query.get("facility", 13))
        if not 0 <= facility <= 23:
            raise ConfigError(f"syslog sink URL {url!r}: facility must be 0..23")
        return cls(parts.hostname, parts.port, tls, relp, payload, query.get("app", "argus"),
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

    def messages(self, records: list[Record]) -> list[bytes]:
        c = self.config
        return [
            syslog_format.message(r, payload=self._render(r), hostname=c.hostname, app=c.app, facility=c.facility)
            for r in records
        ]

    def frames(self, records: list[Record]) -> bytes:
        return b"".join(map(syslog_format.octet_counted, self.messages(records)))

    async def send(self, records: list[Record]) -> None:
        if not records:
            return
        if self.config.relp:
            await asyncio.to_thread(self._deliver_relp, self.messages(records))
        else:
            await asyncio.to_thread(self._deliver, self.frames(records))

    def _connect(self) -> socket.socket:
        raw = socket.create_connection((self.config.host, self.config.port), timeout=TIMEOUT_SECONDS)
        if self._context is None:
            return raw
        try:
            return self._context.wrap_socket(raw, server_hostname=self.config.servername or self.config.host)
        except BaseException:
            raw.close()
            raise

    def _deliver_relp(self, messages: list[bytes]) -> None:
        with self._connect() as connection, connection.makefile("rb") as stream:
            relp.deliver(connection, stream, messages)

    def _deliver(self, data: bytes) -> None:
        with self._connect() as connection:
            connection.sendall(data)
            if not isinstance(connection, ssl.SSLSocket):
                connection.shutdown(socket.SHUT_WR)
                _await_close(connection)
                return
            try:  # our close_notify, then the receiver's
                plain = connection.unwrap()
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                return  # a bare TCP close after our close_notify says the same
            _await_close(plain)

    async def close(self) -> None:
        return None


def _await_close(sock: socket.socket) -> None:
    """Read until the receiver closes its side (ConnectionResetError if it dropped our bytes)."""
    while sock.recv(4096):
        pass
