"""Module-level helpers, like the reference client's global: set one client at start-up, log from anywhere.

    init_global_audit(AuditClient(url, api_key=key))
    log_audit_event({...})

Logging before `init_global_audit` is not silent: the event is still validated (bad events raise),
then refused with a warning (once) and False, so a missing initialisation shows up in the logs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from argus_client.core import ClientCore
from argus_client.encoder import EventEncoder
from argus_spec.enums import EnumConfig
from argus_spec.event import Event

log = logging.getLogger("argus_client")

_client: ClientCore | None = None
_lock = threading.Lock()
_warned = False
_encoder = EventEncoder(EnumConfig())


def init_global_audit(client: ClientCore) -> ClientCore | None:
    """Make `client` (AuditClient or AsyncAuditClient) the global one; returns the one it replaces."""
    global _client
    with _lock:
        previous, _client = _client, client
    return previous


def get_global_audit() -> ClientCore | None:
    return _client


def log_audit_event(event: Event, *, signer: Any = None) -> bool:
    """`client.log_audit_event` on the global client; False (and a warning) when none is set."""
    global _warned
    client = _client
    if client is not None:
        return client.log_audit_event(event, signer=signer)
    _encoder.encode(event)  # caller bugs stay loud even before initialisation
    if not _warned:
        _warned = True
        log.warning("argus client: log_audit_event called before init_global_audit(); event(s) discarded")
    return False


def close_global_audit(timeout: float = 10.0) -> None:
    """Close and unset the global sync client (an AsyncAuditClient must be closed with `await close()`)."""
    global _client
    with _lock:
        client, _client = _client, None
    close = getattr(client, "close", None)
    if client is not None and close is not None:
        result = close(timeout)
        if hasattr(result, "close"):  # a coroutine from the async client: not ours to run here
            result.close()
            raise TypeError("close_global_audit cannot close an AsyncAuditClient; await client.close()")
