"""Signing and verification: Go-compat vectors, tampering, key/algorithm rules, Ed25519 backends."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argus_client.signing import CallableSigner, PemSigner, sign_event
from argus_spec import exactjson
from argus_spec.canonical import V1_TEXT_FIELDS, V2_FIELDS, v1_ambiguity
from argus_spec.enums import EnumConfig
from argus_spec.event import validate_event
from argus_spec.signature import SignatureError, UnsupportedKeyError, verify_event
from tests.event_samples import DOCS_EVENT

SIGDIR = Path(__file__).resolve().parents[1] / "vectors" / "signatures"
DOCS = {name: json.loads((SIGDIR / f"{name}.json").read_text("utf-8")) for name in ("go_v1", "go_v2", "ed25519_edge")}
VECTORS = DOCS["go_v1"]["vectors"] + DOCS["go_v2"]["vectors"]
IDS = [f"{v['format']} {v['name']} {v['keyId']}" for v in VECTORS]
GOOD = [v for v in VECTORS if v["expect"] is None]
GOOD_IDS = [f"{v['format']} {v['name']} {v['keyId']}" for v in GOOD]


@cache
def public_key(key_id: str) -> Any:
    return serialization.load_pem_public_key((SIGDIR / f"{key_id}.pem").read_bytes())


@cache
def signer(key_id: str) -> PemSigner:
    return PemSigner.from_pem((SIGDIR / f"{key_id}.private.pem").read_bytes(), key_id)


def wire_event(vector: dict[str, Any]) -> dict[str, Any]:
    return validate_event(exactjson.loads(vector["wire"]), EnumConfig())  # -0 and big integers as Go sent them


def reason(event: dict[str, Any], key: Any) -> str | None:
    try:
        verify_event(event, key)
    except SignatureError as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_go_signed_events_verify(vector: dict[str, Any]) -> None:
    assert reason(wire_event(vector), public_key(vector["keyId"])) == vector["expect"]
    decoded_like_the_gateway = validate_event(exactjson.loads(vector["wire"].encode()), EnumConfig())
    assert reason(decoded_like_the_gateway, public_key(vector["keyId"])) == vector["expect"]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_python_signs_exactly_like_go(vector: dict[str, Any]) -> None:
    """RS256 (PKCS#1 v1.5) and Ed25519 are deterministic: same bytes in, same signature out."""
    unsigned = {k: v for k, v in wire_event(vector).items() if k != "signature"}
    if vector["format"] == "v1" and v1_ambiguity(unsigned):  # accepted from Go, never created by us
        with pytest.raises(SignatureError, match=r"^actorId: contains '\|'"):
            sign_event(unsigned, signer(vector["keyId"]), format=vector["format"])
        return
    signed = sign_event(unsigned, signer(vector["keyId"]), format=vector["format"])
    assert signed["signature"] == vector["signature"]


def _tampered(field: str, value: Any) -> Any:
    if field == "metadata":
        return {**(value or {}), "tampered": True}
    if not value:  # absent or "" (kept as sent)
        return "x"
    return value[:-1] + ("0" if value[-1] != "0" else "1")


V1_SIGNED = [*V1_TEXT_FIELDS, "message", "metadata"]


@pytest.mark.parametrize("vector", GOOD, ids=GOOD_IDS)
def test_tampering_any_signed_field_fails(vector: dict[str, Any]) -> None:
    event = wire_event(vector)
    key = public_key(vector["keyId"])
    fields = V1_SIGNED if vector["format"] == "v1" else [f for f in V2_FIELDS if f != "signatureAlgorithm"]
    for field in fields:
        changed = {**copy.deepcopy(event), field: _tampered(field, event[field])}
        assert reason(changed, key) == "signature: does not verify", field
    changed = {**event, "signatureAlgorithm": "RS256" if event["signatureAlgorithm"] == "EdDSA" else "EdDSA"}
    assert (reason(changed, key) or "").startswith("signatureAlgorithm:")
    raw = bytearray(base64.b64decode(event["signature"]))
    raw[5] ^= 1
    assert reason({**event, "signature": base64.b64encode(raw).decode()}, key) == "signature: does not verify"


def test_v1_leaves_id_and_key_id_unsigned_v2_does_not() -> None:
    """Why v2: v1 cannot tell a replay with a fresh id from the original."""
    v1 = next(v for v in GOOD if v["format"] == "v1" and v["keyId"] == "test-ed25519-2026")
    v2 = next(v for v in GOOD if v["format"] == "v2" and v["keyId"] == "test-ed25519-2026")
    other_id = "0192f0c4-0000-7000-8000-0000000000ff"
    key = public_key("test-ed25519-2026")
    assert reason({**wire_event(v1), "id": other_id}, key) is None
    assert reason({**wire_event(v2), "id": other_id}, key) == "signature: does not verify"


def test_algorithm_must_match_key_type() -> None:
    ed = next(v for v in GOOD if v["keyId"] == "test-ed25519-2026")
    rs = next(v for v in GOOD if v["keyId"] == "test-rsa-2026")
    event = {**wire_event(ed), "signatureAlgorithm": "RS256", "publicKeyId": "k1"}
    assert reason(event, public_key("test-ed25519-2026")) == "signatureAlgorithm: RS256 does not match Ed25519 key 'k1'"
    # an Ed25519 signature presented under the RSA key, and vice versa
    assert reason(wire_event(ed), public_key("test-rsa-2026")) == (
        "signatureAlgorithm: EdDSA does not match RSA key 'test-ed25519-2026'"
    )
    assert (reason(wire_event(rs), public_key("test-ed25519-2026")) or "").startswith("signatureAlgorithm: RS256")


@cache
def small_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def test_rsa_below_2048_bits_is_refused() -> None:
    with pytest.raises(UnsupportedKeyError, match="1024 bits"):
        PemSigner(small_rsa(), "weak")
    event = {**wire_event(GOOD[0]), "signatureAlgorithm": "RS256"}
    assert (reason(event, small_rsa().public_key()) or "").startswith("signature: key 'test-ed25519-2026' is unusable")


def test_malformed_signatures() -> None:
    event = wire_event(next(v for v in GOOD if v["keyId"] == "test-ed25519-2026"))
    key = public_key("test-ed25519-2026")
    assert reason({**event, "signature": "not base64!"}, key) == "signature: malformed base64"
    assert reason({**event, "signature": "AAAA"}, key) == "signature: an Ed25519 signature has 64 bytes, got 3"
    assert reason({**event, "signature": None}, key) == "signature: missing"
    assert (reason({**event, "signatureFormat": "v9"}, key) or "").startswith("signatureFormat: unknown")


def test_sign_event_contract() -> None:
    ed = signer("test-ed25519-2026")
    base = {"timestamp": "2026-03-01T12:00:00Z", "action": "READ", "status": "SUCCESS", "actorId": "a|b"}
    signed = sign_event(base, ed, format="v2")
    assert signed["id"] and signed["signatureFormat"] == "v2" and "signature" not in base
    assert signed["publicKeyId"] == "test-ed25519-2026" and signed["signatureAlgorithm"] == "EdDSA"
    assert len(base64.b64decode(signed["signature"], validate=True)) == 64
    with pytest.raises(ValueError, match="unknown signature format"):
        sign_event(base, ed, format="v3")
    kms = CallableSigner(ed, "EdDSA", "test-ed25519-2026")
    assert sign_event(signed, kms, format="v2")["signature"] == signed["signature"]
    with pytest.raises(ValueError, match="unsupported signature algorithm"):
        sign_event(base, CallableSigner(ed, "HS256", "x"), format="v2")
    pem = serialization.load_pem_private_key((SIGDIR / "test-ed25519-2026.private.pem").read_bytes(), None)
    assert isinstance(pem, ed25519.Ed25519PrivateKey)


_free_text = st.text(st.characters(codec="utf-8", blacklist_characters="|"), max_size=20)
_meta_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
_events = st.fixed_dictionaries(
    {"timestamp": st.just("2026-03-01T12:00:00.5Z"), "action": _free_text, "status": _free_text, "actorId": _free_text},
    optional={
        "targetId": _free_text,
        "message": st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode()),
        "metadata": st.dictionaries(st.text(max_size=8), _meta_value, max_size=5),
    },
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_events, st.sampled_from(["v1", "v2"]))
def test_signature_survives_the_json_wire(event: dict[str, Any], fmt: str) -> None:
    """Sign in Python, send as JSON, decode, verify: the canonical bytes depend only on the decoded values."""
    signed = sign_event(DOCS_EVENT, signer("test-ed25519-2026"), format=fmt)
    received = json.loads(json.dumps(signed))
    assert reason(received, public_key("test-ed25519-2026")) is None


def test_rsa_signature_survives_the_wire() -> None:
    event = {"timestamp": "2026-03-01T12:00:00Z", "action": "READ", "metadata": {"n": 2**60, "f": 1e16}}
    received = json.loads(json.dumps(sign_event(event, signer("test-rsa-2026"))))
    assert reason(received, public_key("test-rsa-2026")) is None


EDGE = DOCS["ed25519_edge"]["vectors"]


@pytest.mark.parametrize("vector", EDGE, ids=[v["name"] for v in EDGE])
def test_ed25519_backends_on_edge_cases(vector: dict[str, Any]) -> None:
    """libsodium (used by argus/trust/signatures.py) is stricter than Go/OpenSSL only on small-order R,
    which only the key holder can produce; malleated S is refused everywhere."""
    message, sig = base64.b64decode(vector["message"]), base64.b64decode(vector["signature"])
    key = public_key(vector["keyId"])
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        key.verify(sig, message)
        openssl = True
    except Exception:
        openssl = False
    try:
        nacl.signing.VerifyKey(raw).verify(message, sig)
        sodium = True
    except nacl.exceptions.BadSignatureError:
        sodium = False
    assert openssl == vector["goAccepts"]
    assert sodium == (vector["goAccepts"] and vector["name"] != "small-order R")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 63), st.integers(0, 7), st.booleans())
def test_pynacl_and_cryptography_agree(message: bytes, byte: int, bit: int, flip: bool) -> None:
    private = signer("test-ed25519-2026")
    sig = bytearray(private(message))
    if flip:
        sig[byte] ^= 1 << bit
    key = public_key("test-ed25519-2026")
    try:
        key.verify(bytes(sig), message)
        openssl = True
    except Exception:
        openssl = False
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        nacl.signing.VerifyKey(raw).verify(message, bytes(sig))
        sodium = True
    except nacl.exceptions.BadSignatureError:
        sodium = False
    assert openssl == sodium == (not flip)


def test_docs_worked_examples() -> None:
    """The signatures printed in docs/signatures.md."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "signatures.md").read_text("utf-8")
    for fmt in ("v1", "v2"):
        signature = sign_event(DOCS_EVENT, signer("test-ed25519-2026"), format=fmt)["signature"]
        assert f"signature (EdDSA): {signature}\n" in docs
