"""Signature and canonicalization throughput on one core; prints one JSON document.

Why: verification runs for every signed event and JCS for every stored record, so these rates
bound the processor's throughput per core. Run:
    PYTHONPATH=client:. python bench/bench_signatures.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing
import rfc8785
from cryptography.hazmat.primitives import serialization

from argus.trust.key_registry import KeyRegistry, parse_public_key
from argus.trust.signatures import Ed25519Backend, verify_batch
from argus_client.signing import PemSigner, sign_event
from argus_spec import jcs
from argus_spec.canonical import signing_bytes_v1, signing_bytes_v2
from argus_spec.signature import verify_signature

SIGDIR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "signatures"
ED, RS = "test-ed25519-2026", "test-rsa-2026"

#: An unsigned event as hashed into the chain: 12 fields, small metadata; 380 bytes of JCS.
EVENT: dict[str, Any] = {
    "id": "0192f0c4-0000-7000-8000-000000000001",
    "timestamp": "2026-03-01T12:00:00.123456Z",
    "traceId": "0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e",
    "eventType": "DATA_FETCH",
    "action": "READ",
    "status": "SUCCESS",
    "actorType": "SERVICE",
    "actorId": "orders-svc",
    "targetType": "RESOURCE",
    "targetId": "invoice-42",
    "message": None,
    "metadata": {"requestId": "c0ffee-42", "ip": "10.0.0.1", "retries": 0, "ok": True},
}
EVENT_WITH_FLOAT = {**EVENT, "metadata": {**EVENT["metadata"], "latencyMs": 12.5}}
EVENT_EXACT_PATH = {**EVENT, "metadata": {**EVENT["metadata"], "\ue000": 1}}  # forces the rfc8785 path


def rate(fn: Callable[[], object], seconds: float, per_call: int = 1) -> int:
    """Best of three timed runs of `fn`, in calls per second."""
    batch = 1
    while True:  # calibrate so one run takes ~seconds/3
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 30:
            break
        batch *= 2
    per_run = max(1, int(batch * (seconds / 3) / elapsed))
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(per_run):
            fn()
        best = max(best, per_run / (time.perf_counter() - start))
    return round(best * per_call)


def threaded_rate(fn: Callable[[], object], threads: int, calls: int = 20000) -> int:
    """Total calls/s with `threads` threads: shows whether `fn` releases the GIL."""

    def work() -> None:
        for _ in range(calls):
            fn()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return round(threads * calls / (time.perf_counter() - start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds
    ed = PemSigner.from_pem((SIGDIR / f"{ED}.private.pem").read_bytes(), ED)
    rs = PemSigner.from_pem((SIGDIR / f"{RS}.private.pem").read_bytes(), RS)
    ed_entry = parse_public_key((SIGDIR / f"{ED}.pem").read_bytes(), ED, "bench")
    rs_entry = parse_public_key((SIGDIR / f"{RS}.pem").read_bytes(), RS, "bench")
    registry = KeyRegistry([ed_entry, rs_entry])
    data = signing_bytes_v1(EVENT)
    ed_sig, rs_sig = ed(data), rs(data)
    raw_pub = ed_entry.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    nacl_key = nacl.signing.VerifyKey(raw_pub)
    signed = {(fmt, key.key_id): sign_event(EVENT, key, format=fmt) for fmt in ("v1", "v2") for key in (ed, rs)}
    batch_size = 256
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    two_threads = {  # measured before pinning to one core
        "ed25519_cryptography": threaded_rate(lambda: verify_signature(ed_entry.public_key, ed_sig, data), 2),
        "ed25519_pynacl": threaded_rate(lambda: nacl_key.verify(data, ed_sig), 2),
    }
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as promised

    def batch_rate(event: dict[str, Any], backend: Ed25519Backend = "pynacl") -> int:
        events = [event] * batch_size
        return rate(lambda: verify_batch(events, registry, ed25519_backend=backend), seconds, batch_size)

    report = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cores_used": 1,
        "event_jcs_bytes": len(jcs.canonicalize(EVENT)),
        "verify_per_s": {
            "ed25519_cryptography": rate(lambda: verify_signature(ed_entry.public_key, ed_sig, data), seconds),
            "ed25519_pynacl": rate(lambda: nacl_key.verify(data, ed_sig), seconds),
            "rs256_2048_cryptography": rate(lambda: verify_signature(rs_entry.public_key, rs_sig, data), seconds),
        },
        "verify_batch_events_per_s": {
            f"{fmt}_{'ed25519' if key_id == ED else 'rs256'}": batch_rate(event)
            for (fmt, key_id), event in signed.items()
        }
        | {"v1_ed25519_cryptography_backend": batch_rate(signed["v1", ED], "cryptography")},
        "verify_two_threads_per_s": {"machine_cores": cores, **two_threads},
        "sign_per_s": {
            "ed25519": rate(lambda: ed(data), seconds),
            "rs256_2048": rate(lambda: rs(data), seconds),
        },
        "canonical_per_s": {
            "jcs_fast_path": rate(lambda: jcs.canonicalize(EVENT), seconds),
            "jcs_floats_path": rate(lambda: jcs.canonicalize(EVENT_WITH_FLOAT), seconds),
            "jcs_exact_fallback": rate(lambda: jcs.canonicalize(EVENT_EXACT_PATH), seconds),
            "rfc8785_reference": rate(lambda: rfc8785.dumps(EVENT), seconds),
            "signing_bytes_v1": rate(lambda: signing_bytes_v1(EVENT), seconds),
            "signing_bytes_v2": rate(lambda: signing_bytes_v2(EVENT), seconds),
        },
        "paths": {
            "EVENT": jcs.path_for(EVENT),
            "EVENT_WITH_FLOAT": jcs.path_for(EVENT_WITH_FLOAT),
            "EVENT_EXACT_PATH": jcs.path_for(EVENT_EXACT_PATH),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
