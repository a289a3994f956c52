"""No-op mode (ENABLE_AUDIT=false or no URL) and the module-level helpers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from argus_client import global_audit
from argus_client.aio import AsyncAuditClient
from argus_client.client import AuditClient
from argus_spec.event import EventValidationError
from tests.unit.test_client_sync import FakeGateway, event


@pytest.fixture(autouse=True)
def no_global_client() -> Iterator[None]:
    global_audit.init_global_audit(None)  # type: ignore[arg-type]
    global_audit._warned = False
    yield
    global_audit.init_global_audit(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["false", "FALSE", "0", "no", "off"])
def test_enable_audit_false_makes_a_silent_no_op(monkeypatch: pytest.MonkeyPatch, flag: str) -> None:
    monkeypatch.setenv("ENABLE_AUDIT", flag)
    threads = threading.active_count()
    with FakeGateway() as server:
        client = AuditClient(server.url, api_key="k")
        assert threading.active_count() == threads + 1  # only the fake server's thread
        assert client.log_audit_event(event(1)) is True
        client.close()
    assert server.hits == [] and not client.enabled
    names = ["enqueued", "sent", "failed", "dropped", "spooled", "replayed", "queued"]
    assert client.stats() == dict.fromkeys(names, 0)


@pytest.mark.parametrize("url", ["", None])
def test_an_empty_url_is_a_no_op_that_still_validates(url: str | None) -> None:
    client = AuditClient(url, api_key="k")
    assert not client.enabled and client.log_audit_event(event(1)) is True
    with pytest.raises(EventValidationError):
        client.log_audit_event(event(1, status="MAYBE"))  # caller bugs are loud even when auditing is off
    client.close()


async def test_async_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENABLE_AUDIT", "false")
    async with AsyncAuditClient("http://127.0.0.1:9", api_key="k") as client:
        assert client.log_audit_event(event(1)) is True
        assert await client.log_audit_event_async(event(2)) is True
    assert client.stats()["enqueued"] == 0


def test_global_helpers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="argus_client"):
        assert global_audit.log_audit_event(event(1)) is False
        assert global_audit.log_audit_event(event(2)) is False
    assert caplog.text.count("before init_global_audit") == 1  # warned once, not per event
    with pytest.raises(EventValidationError):
        global_audit.log_audit_event(event(3, action="JUMP"))
    with FakeGateway() as server:
        client = AuditClient(server.url, api_key="k")
        assert global_audit.init_global_audit(client) is None
        assert global_audit.get_global_audit() is client
        assert global_audit.log_audit_event(event(4)) is True
        global_audit.close_global_audit(5)
    assert [e["targetId"] for e in server.events] == ["doc-4"]
    assert global_audit.get_global_audit() is None
