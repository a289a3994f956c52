"""RELP framing and the per-message acknowledgement rule (sinks/relp.py); the conformance suite
runs it against rsyslog's imrelp, restarts included."""

from __future__ import annotations

import io

import pytest

from sinks import relp

OPEN_OK = relp.frame(1, b"rsp", b"200 OK\nrelp_version=0\ncommands=syslog")


class Recorder:
    def __init__(self) -> None:
        self.sent = b""

    def sendall(self, data: bytes, /) -> None:
        self.sent += data


def _answers(*frames: bytes) -> io.BytesIO:
    return io.BytesIO(b"".join(frames))


def test_frames_round_trip_with_and_without_data() -> None:
    stream = _answers(relp.frame(7, b"syslog", b"<13>1 - - - - - - a\nb"), relp.frame(8, b"close"))
    assert relp.read_frame(stream) == (7, b"syslog", b"<13>1 - - - - - - a\nb")
    assert relp.read_frame(stream) == (8, b"close", b"")
    assert relp.frame(8, b"close") == b"8 close 0\n"


def test_every_message_needs_its_own_200_in_order() -> None:
    messages = [b"m%d" % i for i in range(300)]  # three windows
    oks = [relp.frame(2 + i, b"rsp", b"200 OK") for i in range(300)]
    connection = Recorder()
    assert relp.deliver(connection, _answers(OPEN_OK, *oks, relp.frame(302, b"rsp")), messages) == 300
    sent = io.BytesIO(connection.sent)
    assert relp.read_frame(sent)[1] == b"open"
    assert [relp.read_frame(sent)[2] for _ in messages] == messages
    assert relp.read_frame(sent) == (302, b"close", b"")


@pytest.mark.parametrize(
    "answers",
    [
        [OPEN_OK, relp.frame(2, b"rsp", b"200 OK")],  # closed before the second answer
        [OPEN_OK, relp.frame(2, b"rsp", b"200 OK"), relp.frame(3, b"rsp", b"500 no space")],
        [OPEN_OK, relp.frame(3, b"rsp", b"200 OK"), relp.frame(2, b"rsp", b"200 OK")],  # out of order
        [OPEN_OK, relp.frame(0, b"serverclose")],
        [relp.frame(1, b"rsp", b"200 OK\ncommands=nothing")],
        [OPEN_OK, b"2 rsp 60 200 OK\n"],  # truncated
        [OPEN_OK, b"x rsp 6 200 OK\n"],
    ],
)
def test_a_missing_refused_or_garbled_answer_raises(answers: list[bytes]) -> None:
    with pytest.raises(relp.RelpError):
        relp.deliver(Recorder(), _answers(*answers), [b"first", b"second"])
