"""RELP, rsyslog's Reliable Event Logging Protocol (https://www.rsyslog.com/doc/relp.html): the
receiver answers every message with "200 OK" once it holds it, so a sender knows what was kept.

Plain syslog over TLS cannot know: rsyslog that stops mid-connection drops the last TLS record it
read and still closes cleanly (docs/sinks.md). Over RELP a message is delivered only when its own
"200" arrives; a missing, late or refused answer raises, and the lane sends the batch again.

A frame is ``TXNR SP COMMAND SP DATALEN [SP DATA] LF``. One connection per send: ``open``, the
messages pipelined in windows, ``close``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO, Protocol

#: Messages in flight before we read their answers (librelp's own default window is 128).
WINDOW = 128
OFFERS = b"relp_version=0\nrelp_software=argus\ncommands=syslog"
_MAX_TXNR = 999_999_999
_MAX_HEADER_TOKEN = 16


class RelpError(ConnectionError):
    """The receiver broke the protocol, refused a message, or closed before answering."""


class Connection(Protocol):
    def sendall(self, data: bytes, /) -> None: ...


def frame(txnr: int, command: bytes, data: bytes = b"") -> bytes:
    return b"%d %s %d%s\n" % (txnr, command, len(data), b" " + data if data else b"")


def read_frame(stream: BinaryIO) -> tuple[int, bytes, bytes]:
    """One frame from the receiver: (txnr, command, data)."""
    txnr = _number(_token(stream, b" "))
    command = _token(stream, b" ")
    length_token = _token(stream, b" \n")
    length = _number(length_token[:-1] if length_token.endswith(b"\n") else length_token)
    if length_token.endswith(b"\n"):  # DATALEN 0 and no data: the LF ended the header
        if length:
            raise RelpError(f"RELP frame {txnr}: length {length} without data")
        return txnr, command, b""
    data = stream.read(length + 1)
    if len(data) != length + 1 or not data.endswith(b"\n"):
        raise RelpError(f"RELP frame {txnr}: truncated or not LF-terminated")
    return txnr, command, data[:-1]


def _token(stream: BinaryIO, ends: bytes) -> bytes:
    token = b""
    while len(token) <= _MAX_HEADER_TOKEN:
        byte = stream.read(1)
        if not byte:
            raise RelpError("RELP receiver closed the connection before answering")
        if byte in ends:
            return token + (byte if byte == b"\n" else b"")
        token += byte
    raise RelpError(f"RELP frame header token too long: {token[:32]!r}")


def _number(token: bytes) -> int:
    if not token.isdigit():
        raise RelpError(f"RELP frame header: {token[:32]!r} is not a number")
    return int(token)


def _expect_ok(stream: BinaryIO, txnr: int) -> bytes:
    got, command, data = read_frame(stream)
    if command == b"serverclose":
        raise RelpError("RELP receiver is closing the session")
    if (got, command) != (txnr, b"rsp") or not data.startswith(b"200"):
        raise RelpError(f"RELP transaction {txnr}: answer {got} {command!r} {data[:200]!r}")
    return data


def deliver(connection: Connection, stream: BinaryIO, messages: Iterable[bytes]) -> int:
    """Send every message (RFC 5424 bytes) and return once each has its "200 OK"."""
    connection.sendall(frame(1, b"open", OFFERS))
    offers = _expect_ok(stream, 1)
    if b"commands=syslog" not in offers:
        raise RelpError(f"RELP receiver does not offer the syslog command: {offers[:200]!r}")
    txnr, window, sent = 1, [], 0
    for message in messages:
        txnr = txnr % _MAX_TXNR + 1
        window.append((txnr, frame(txnr, b"syslog", message)))
        if len(window) == WINDOW:
            sent += _send_window(connection, stream, window)
    sent += _send_window(connection, stream, window)
    txnr = txnr % _MAX_TXNR + 1
    connection.sendall(frame(txnr, b"close"))
    got, command, _data = read_frame(stream)
    if (got, command) != (txnr, b"rsp"):
        raise RelpError(f"RELP close {txnr}: answer {got} {command!r}")
    return sent


def _send_window(connection: Connection, stream: BinaryIO, window: list[tuple[int, bytes]]) -> int:
    connection.sendall(b"".join(data for _txnr, data in window))
    for txnr, _data in window:
        _expect_ok(stream, txnr)
    count = len(window)
    window.clear()
    return count
