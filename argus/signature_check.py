"""TEMPORARY placeholder until the signature module lands: rejects every signed event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from argus.config import Settings


def make_batch_verifier(settings: Settings) -> Callable[[list[dict[str, Any]]], list[str | None]]:
    def verify(events: list[dict[str, Any]]) -> list[str | None]:
        out: list[str | None] = []
        for event in events:
            if event.get("signature") is None:
                out.append("signature: required" if settings.require_signatures else None)
            else:
                out.append(f"publicKeyId: unknown key {event.get('publicKeyId')!r}")
        return out

    return verify
