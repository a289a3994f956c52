"""Batch signature verification for the processor (and the gateway): one reason or None per event.

Why a batch function with no I/O and no event loop: verification is CPU work (~45 us per Ed25519
event, ~22 us per RSA-2048), so callers run it off the event loop, `await asyncio.to_thread(
verify_batch, events, registry)` or in a process pool (`init_worker` + `verify_batch_in_worker`).
Ed25519 backends (bench/bench_signatures.py): PyNaCl (libsodium, the default) is ~1.6x faster per
core than `cryptography`; both release the GIL, so a verifying thread runs beside the event loop
and two threads use two cores. `ed25519_backend="cryptography"` is there for cross-checks.

libsodium vs Go/OpenSSL Ed25519: all three check S < L (no malleability) and use the same
cofactorless equation; libsodium additionally rejects small-order public keys and small-order R.
An honest signer never produces those (R = rB for a secret hash-derived r), so valid signatures
from the reference Go client verify identically; only a key holder's deliberately crafted
signature could pass in Go and fail here - failing closed. tests/unit/test_signing.py pins this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from nacl.exceptions import BadSignatureError

from argus.runtime.settings import ConfigError, Settings
from argus.trust.key_registry import (
    KeyLookupError,
    KeyRegistry,
    KeyRegistryError,
    PublicKeyEntry,
    install_sighup_reload,
)
from argus_spec.event import parse_timestamp
from argus_spec.signature import SignatureError, prepare_verification, verify_signature

log = logging.getLogger(__name__)

Ed25519Backend = Literal["pynacl", "cryptography"]
REQUIRED = "signature: required"
DOES_NOT_VERIFY = "signature: does not verify"


def _crypto_ok(entry: PublicKeyEntry, signature: bytes, data: bytes, backend: Ed25519Backend) -> bool:
    if entry.nacl_key is not None and backend == "pynacl":
        try:
            entry.nacl_key.verify(data, signature)
        except BadSignatureError:
            return False
        return True
    return verify_signature(entry.public_key, signature, data)


def verify_one(
    event: dict[str, Any],
    registry: KeyRegistry,
    *,
    require_signatures: bool = False,
    received_at: datetime | None = None,
    ed25519_backend: Ed25519Backend = "pynacl",
    source: str | None = None,
) -> str | None:
    """None if the event verifies (or is unsigned and neither REQUIRE_SIGNATURES nor the registry's
    policy for its `source` or actorId asks for a signature), else the reason."""
    if not event.get("signature"):
        if require_signatures:
            return REQUIRED
        rule = registry.must_sign(source, event.get("actorId"), received_at)
        return None if rule is None else f"{REQUIRED} by policy ({rule})"
    key_id = event.get("publicKeyId")
    if not isinstance(key_id, str) or not key_id:
        return "publicKeyId: is required when signature is set"
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, str):
        return "timestamp: is required"
    try:
        entry = registry.lookup(key_id, parse_timestamp(timestamp), received_at=received_at)
        signature, data = prepare_verification(event, entry.algorithm, entry.key_id)
    except (KeyLookupError, SignatureError) as exc:
        return exc.reason
    except ValueError as exc:  # EventValidationError from the timestamp: "timestamp: ..."
        return str(exc)
    return None if _crypto_ok(entry, signature, data, ed25519_backend) else DOES_NOT_VERIFY


def verify_batch(
    events: list[dict[str, Any]],
    registry: KeyRegistry,
    *,
    require_signatures: bool = False,
    received_at: datetime | None = None,
    ed25519_backend: Ed25519Backend = "pynacl",
    sources: Sequence[str | None] | None = None,
) -> list[str | None]:
    """Verify normalized events (validate_event output); never raises for one bad event.

    `received_at` (arrival time) enables the registry's ingestGraceSeconds check; leave it None
    when re-verifying stored events. `require_signatures` turns unsigned events into `signature: required`,
    and so does the registry's policy for an event's source (`sources`, one per event) or actorId.
    """
    results: list[str | None] = []
    for index, event in enumerate(events):
        try:
            reason = verify_one(
                event,
                registry,
                require_signatures=require_signatures,
                received_at=received_at,
                ed25519_backend=ed25519_backend,
                source=None if sources is None else sources[index],
            )
            results.append(reason)
        except Exception as exc:  # a bug must fail the event, not the batch (and never pass it)
            log.exception("unexpected error verifying event %r", event.get("id"))
            results.append(f"signature: cannot be verified ({type(exc).__name__})")
    return results


_worker_registry: KeyRegistry | None = None


def init_worker(keys_config: str) -> None:
    """ProcessPoolExecutor initializer: load the registry once per worker process."""
    global _worker_registry
    _worker_registry = KeyRegistry.load(keys_config)


def verify_batch_in_worker(
    events: list[dict[str, Any]], require_signatures: bool = False, received_at: datetime | None = None
) -> list[str | None]:
    """verify_batch against the worker's registry (see init_worker); picklable for process pools."""
    if _worker_registry is None:
        raise RuntimeError("verify_batch_in_worker needs init_worker(keys_config) as the pool initializer")
    return verify_batch(events, _worker_registry, require_signatures=require_signatures, received_at=received_at)


class BatchVerifier(Protocol):
    """Verify a batch of events, each with the source it came from (None: unknown); a reason or None each."""

    def __call__(
        self, events: list[dict[str, Any]], sources: Sequence[str | None] | None = None
    ) -> list[str | None]: ...


def load_key_registry(settings: Settings) -> KeyRegistry:
    """The configured registry (ARGUS_KEYS_CONFIG); with none, an empty one: every signature fails."""
    if settings.keys_config is None:
        return KeyRegistry()
    try:
        return KeyRegistry.load(settings.keys_config)
    except KeyRegistryError as exc:
        raise ConfigError(f"ARGUS_KEYS_CONFIG: {exc}") from exc


def make_batch_verifier(settings: Settings, registry: KeyRegistry, *, signatures: bool = True) -> BatchVerifier:
    """verify_batch bound to the registry (its keys and mustSign policy) and REQUIRE_SIGNATURES.
    With `signatures` False only presence is checked (the policy and REQUIRE_SIGNATURES), no cryptography:
    the gateway with ARGUS_GATEWAY_VERIFY_SIGNATURES off still refuses unsigned events under policy."""

    def verify(events: list[dict[str, Any]], sources: Sequence[str | None] | None = None) -> list[str | None]:
        # Live ingest: arrival time is now, which enables the registry's ingestGraceSeconds check.
        now = datetime.now(UTC)
        checked = events if signatures else [{**e, "signature": None} if e.get("signature") else e for e in events]
        reasons = verify_batch(
            checked, registry, require_signatures=settings.require_signatures, received_at=now, sources=sources
        )
        if signatures:
            return reasons
        return [None if event.get("signature") else r for event, r in zip(events, reasons, strict=True)]

    return verify


def watch_for_reload(registry: KeyRegistry) -> None:
    """Reload the registry on SIGHUP (from the running loop); a no-op for an in-memory registry."""
    if registry.source is None:
        return
    try:
        install_sighup_reload(registry, asyncio.get_running_loop())
    except (RuntimeError, ValueError) as exc:  # signal handlers exist only in the main thread
        log.warning("SIGHUP key reload not installed: %s", exc)
