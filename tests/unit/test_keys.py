"""argus.trust.key_registry (registry, validity, reload) and argus.trust.signatures (batch verification reasons)."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import shutil
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from argus.trust.key_registry import (
    KeyExpiredError,
    KeyNotYetValidError,
    KeyRegistry,
    KeyRegistryError,
    UnknownKeyError,
    install_sighup_reload,
)
from argus.trust.signatures import Ed25519Backend, init_worker, verify_batch, verify_batch_in_worker
from argus_client.signing import PemSigner, sign_event
from argus_spec import exactjson
from argus_spec.enums import EnumConfig
from argus_spec.event import validate_event

SIGDIR = Path(__file__).resolve().parents[1] / "vectors" / "signatures"
VECTORS = [v for n in ("go_v1", "go_v2") for v in json.loads((SIGDIR / f"{n}.json").read_text("utf-8"))["vectors"]]
ED, ED_OLD, RS = "test-ed25519-2026", "test-ed25519-2025", "test-rsa-2026"
ROTATED_YAML = f"""
keys:
  - id: {ED_OLD}
    pemFile: keys/{ED_OLD}.pem
    notAfter: 2026-01-01T00:00:00Z
  - id: {ED}
    algorithm: EdDSA
    pemFile: keys/{ED}.pem
    notBefore: 2026-01-01T00:00:00Z
  - id: {RS}
    algorithm: RS256
    pem: |
{"".join("      " + line + chr(10) for line in (SIGDIR / f"{RS}.pkcs1.pem").read_text().splitlines())}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def keys_yaml(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    for key_id in (ED, ED_OLD):
        shutil.copy(SIGDIR / f"{key_id}.pem", tmp_path / "keys" / f"{key_id}.pem")
    path = tmp_path / "keys.yaml"
    path.write_text(ROTATED_YAML)
    return path


def test_yaml_registry(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    assert registry.key_ids == sorted([ED, ED_OLD, RS])
    entry = registry.lookup(ED, at("2026-06-01T00:00:00Z"))
    assert entry.algorithm == "EdDSA" and entry.nacl_key is not None
    rsa_entry = registry.lookup(RS, at("2020-01-01T00:00:00Z"))  # PKCS#1 inline PEM, no validity limits
    assert rsa_entry.algorithm == "RS256" and rsa_entry.nacl_key is None


def test_folder_registry(tmp_path: Path) -> None:
    for key_id in (ED, RS):
        shutil.copy(SIGDIR / f"{key_id}.pem", tmp_path / f"{key_id}.pem")
    (tmp_path / "README.txt").write_text("ignored")
    registry = KeyRegistry.load(tmp_path)
    assert registry.key_ids == [ED, RS]


def test_validity_is_judged_at_the_event_timestamp(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    assert registry.lookup(ED_OLD, at("2025-12-31T23:59:59.999999Z")).key_id == ED_OLD  # rotated, still valid
    with pytest.raises(KeyExpiredError, match=r"^signature: key 'test-ed25519-2025' expired at 2026-01-01T00:00:00Z"):
        registry.lookup(ED_OLD, at("2026-01-01T00:00:00Z"))  # notAfter is exclusive
    with pytest.raises(KeyNotYetValidError, match=r"is not valid before 2026-01-01T00:00:00Z"):
        registry.lookup(ED, at("2025-12-31T23:59:59+00:00"))
    with pytest.raises(UnknownKeyError) as info:
        registry.lookup("k1", at("2026-01-01T00:00:00Z"))
    assert info.value.reason == "signature: unknown publicKeyId 'k1'"


def test_ingest_grace_bounds_retired_keys_by_arrival(keys_yaml: Path) -> None:
    keys_yaml.write_text("ingestGraceSeconds: 86400\n" + ROTATED_YAML)
    registry = KeyRegistry.load(keys_yaml)
    event_time = at("2025-12-31T12:00:00Z")
    assert registry.lookup(ED_OLD, event_time, received_at=at("2026-01-01T23:00:00Z"))
    assert registry.lookup(ED_OLD, event_time)  # re-verifying stored events: no arrival time
    with pytest.raises(KeyExpiredError, match="accepted until 2026-01-02T00:00:00Z"):
        registry.lookup(ED_OLD, event_time, received_at=at("2026-01-02T00:00:00Z"))


def _pem(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n", "not a valid PEM public key"),
        (b"garbage", "expected exactly one PEM public key block"),
        ((SIGDIR / f"{ED}.private.pem").read_bytes(), "holds a private key"),
        (_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()), "1024 bits"),
    ],
)
def test_bad_pem_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "broken-key.pem").write_bytes(content)
    with pytest.raises(KeyRegistryError, match=message) as info:
        KeyRegistry.load(tmp_path)
    assert str(tmp_path / "broken-key.pem") in str(info.value) and "'broken-key'" in str(info.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (f"{{id: k, algorithm: RS256, pemFile: keys/{ED}.pem}}", "algorithm 'RS256' does not match"),
        ("{id: k, pemFile: keys/missing.pem}", "missing.pem \\(key 'k'\\): cannot read"),
        (f"{{id: k, pemFile: keys/{ED}.pem, notAfter: '2026-01-01T00:00:00'}}", "needs a timezone"),
        (f"{{id: k, pemFile: keys/{ED}.pem, color: red}}", "unknown fields"),
        ("{id: k}", "exactly one of 'pem' or 'pemFile'"),
        (f"{{id: k, pemFile: keys/{ED}.pem, notBefore: 2027-01-01, notAfter: 2026-01-01}}", "notBefore must be"),
        (f"{{id: {ED_OLD}, pemFile: keys/{ED}.pem}}", "duplicate key id"),
    ],
)
def test_bad_yaml_entries(keys_yaml: Path, entry: str, message: str) -> None:
    keys_yaml.write_text(ROTATED_YAML.replace("keys:\n", f"keys:\n  - {entry}\n", 1))
    with pytest.raises(KeyRegistryError, match=message):
        KeyRegistry.load(keys_yaml)


def test_reload_swaps_and_a_broken_file_keeps_the_old_keys(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    keys_yaml.write_text(f"keys:\n  - {{id: new, pemFile: keys/{ED}.pem}}\n")
    assert registry.reload() == ["new"]
    with pytest.raises(UnknownKeyError):
        registry.lookup(ED_OLD, at("2025-01-01T00:00:00Z"))
    keys_yaml.write_text("keys: [{id: x, pem: nonsense}]")
    with pytest.raises(KeyRegistryError):
        registry.reload()
    assert registry.key_ids == ["new"]


def test_lookups_during_reloads_never_fail(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                registry.lookup(RS, at("2026-06-01T00:00:00Z"))
            except BaseException as exc:  # pragma: no cover - the assertion below reports it
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(30):
        registry.reload()
    stop.set()
    thread.join()
    assert errors == []


async def test_sighup_reloads_off_the_event_loop(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    loop = asyncio.get_running_loop()
    outcomes: asyncio.Queue[list[str] | Exception] = asyncio.Queue()
    uninstall = install_sighup_reload(registry, loop, outcomes.put_nowait)
    try:
        keys_yaml.write_text(f"keys:\n  - {{id: rotated, pemFile: keys/{ED}.pem}}\n")
        os.kill(os.getpid(), signal.SIGHUP)
        assert await asyncio.wait_for(outcomes.get(), 5) == ["rotated"]
        keys_yaml.write_text("not: [valid")
        os.kill(os.getpid(), signal.SIGHUP)
        assert isinstance(await asyncio.wait_for(outcomes.get(), 5), KeyRegistryError)
        assert registry.key_ids == ["rotated"]
    finally:
        uninstall()


def test_registry_pickles_for_process_pools(keys_yaml: Path) -> None:
    registry = pickle.loads(pickle.dumps(KeyRegistry.load(keys_yaml)))
    assert registry.key_ids == sorted([ED, ED_OLD, RS])
    with pytest.raises(KeyExpiredError):
        registry.lookup(ED_OLD, at("2026-02-01T00:00:00Z"))
    assert registry.reload()  # the source path travels along


# --- argus.trust.signatures -------------------------------------------------------------------------


def events(format: str | None = None) -> list[dict[str, Any]]:
    return [validate_event(exactjson.loads(v["wire"]), EnumConfig()) for v in VECTORS if format in (None, v["format"])]


@pytest.mark.parametrize("backend", ["pynacl", "cryptography"])
def test_verify_batch_on_go_vectors(keys_yaml: Path, backend: Ed25519Backend) -> None:
    registry = KeyRegistry.load(keys_yaml)
    expected = [v["expect"] for v in VECTORS]
    assert verify_batch(events(), registry, ed25519_backend=backend) == expected


def test_verify_batch_reasons(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    good = next(e for e in events("v1") if e["publicKeyId"] == ED and "|" not in e["actorId"])
    unsigned = {**good, "signature": None, "signatureAlgorithm": None, "publicKeyId": None}
    batch = [
        good,
        unsigned,
        {**good, "publicKeyId": "k1"},
        {**good, "publicKeyId": ED_OLD},
        {**good, "timestamp": "2025-06-01T00:00:00Z"},
        {**good, "signatureAlgorithm": "RS256"},
        {**good, "actorId": "x"},
        {**good, "signature": "%%%"},
        {**good, "timestamp": 5},
    ]
    assert verify_batch(batch, registry) == [
        None,
        None,
        "signature: unknown publicKeyId 'k1'",
        "signature: key 'test-ed25519-2025' expired at 2026-01-01T00:00:00Z (event at 2026-03-01T12:00:00Z)",
        "signature: key 'test-ed25519-2026' is not valid before 2026-01-01T00:00:00Z (event at 2025-06-01T00:00:00Z)",
        "signatureAlgorithm: RS256 does not match Ed25519 key 'test-ed25519-2026'",
        "signature: does not verify",
        "signature: malformed base64",
        "timestamp: is required",
    ]
    assert verify_batch([unsigned], registry, require_signatures=True) == ["signature: required"]


def test_v1_pipe_accepted_like_the_reference_service_and_v2_accepted(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    signer = PemSigner.from_pem((SIGDIR / f"{RS}.private.pem").read_bytes(), RS)
    event = {"timestamp": "2026-03-01T12:00:00Z", "action": "READ", "status": "SUCCESS", "actorId": "a|b"}
    event |= {"actorType": "SERVICE", "targetType": "RESOURCE"}
    v2 = validate_event(sign_event(event, signer, format="v2"), EnumConfig())
    v1 = next(e for e in events("v1") if "|" in e["actorId"])  # ambiguous, but what Go signed: verifies
    forged_split = {**v1, "actorId": "alice", "targetType": "SERVICE|RESOURCE"}  # same v1 string, other event
    assert verify_batch([v2, v1, forged_split], registry) == [None, None, None]  # why it is stored marked


def test_verify_batch_never_raises(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    weird: dict[str, Any] = {"signature": "AAAA", "publicKeyId": ED, "timestamp": "2026-03-01T12:00:00Z"}
    weird["metadata"] = {"x": {1, 2}}  # not JSON at all
    weird["signatureAlgorithm"] = "EdDSA"
    assert verify_batch([weird], registry) == ["signature: an Ed25519 signature has 64 bytes, got 3"]
    weird["signature"] = "A" * 86 + "=="
    assert (verify_batch([weird], registry)[0] or "").startswith("metadata:")


def test_verify_batch_in_a_process_pool(keys_yaml: Path) -> None:
    with ProcessPoolExecutor(1, initializer=init_worker, initargs=(str(keys_yaml),)) as pool:
        result = pool.submit(verify_batch_in_worker, events()).result(timeout=60)
    assert result == [v["expect"] for v in VECTORS]


async def test_verify_batch_in_a_thread(keys_yaml: Path) -> None:
    registry = KeyRegistry.load(keys_yaml)
    assert await asyncio.to_thread(verify_batch, events(), registry) == [v["expect"] for v in VECTORS]


def test_utc_constant_is_used_for_dates(keys_yaml: Path) -> None:
    keys_yaml.write_text(f"keys:\n  - {{id: d, pemFile: keys/{ED}.pem, notAfter: 2026-01-01}}\n")
    entry = KeyRegistry.load(keys_yaml).lookup("d", datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    assert entry.not_after == datetime(2026, 1, 1, tzinfo=UTC)


def test_must_sign_policy_by_source_and_actor_glob(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("keys: []\nmustSign:\n  - source: payments\n  - actorId: 'svc-*'\n"
                    "  - actorId: billing\n    since: 2026-03-01T00:00:00Z\n")  # fmt: skip
    registry = KeyRegistry.load(path)
    assert registry.has_policy
    assert registry.must_sign("payments", "anyone") == "source 'payments'"
    assert registry.must_sign("other", "svc-orders") == "actorId 'svc-*'"
    assert registry.must_sign("other", "orders") is None
    assert registry.must_sign(None, "billing", at("2026-02-28T23:59:59+00:00")) is None
    assert registry.must_sign(None, "billing", at("2026-03-01T00:00:00+00:00")) == (
        "actorId 'billing' since 2026-03-01T00:00:00Z"
    )
    assert registry.must_sign(None, "billing") is not None  # no time known: every rule applies
    assert pickle.loads(pickle.dumps(registry)).must_sign("payments", None) == "source 'payments'"
    unsigned = validate_event(
        {"timestamp": "2026-03-01T12:00:00Z", "action": "READ", "status": "SUCCESS", "actorType": "SERVICE",
         "actorId": "svc-a", "targetType": "RESOURCE"}, EnumConfig())  # fmt: skip
    assert verify_batch([unsigned, unsigned], registry, sources=["x", "payments"]) == [
        "signature: required by policy (actorId 'svc-*')", "signature: required by policy (source 'payments')"]


@pytest.mark.parametrize("policy", [
    "mustSign: {source: x}", "mustSign:\n  - {source: x, actorId: y}", "mustSign:\n  - {}",
    "mustSign:\n  - {source: ''}", "mustSign:\n  - {actorId: x, until: 2026-01-01}",
    "mustSign:\n  - {actorId: x, since: 2026-01-01T00:00:00}",
])  # fmt: skip
def test_bad_must_sign_policy_is_refused(tmp_path: Path, policy: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys: []\n{policy}\n")
    with pytest.raises(KeyRegistryError, match="mustSign"):
        KeyRegistry.load(path)
