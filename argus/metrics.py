"""Metrics shared by gateway and processor (both verify signatures)."""

from __future__ import annotations

from prometheus_client import Counter

SIGNATURE_ERRORS = Counter("argus_signature_verification_errors_total", "Events whose signature did not verify")
