"""Signature checking at the gateway, so HTTP callers hear about a bad signature at once (400).

The processor verifies again regardless: producers may write straight to Kafka.
"""

from __future__ import annotations

from argus.config import Settings
from argus.signature_check import make_batch_verifier
from ingest_gateway.keys import BatchVerifier


def build_verifier(settings: Settings) -> BatchVerifier | None:
    """A batch verifier over the configured key registry, or None when gateway checks are off."""
    if not settings.gateway_verify_signatures:
        return None
    return make_batch_verifier(settings)  # type: ignore[return-value]
