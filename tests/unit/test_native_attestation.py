"""argus_native.batch_message against argus_spec.receipt, the reference it stands in for.

Why: the processor believes an envelope's source and receivedAt when the bytes argus_native says a
v2 attestation signs verify; one byte of difference from the reference would accept or refuse
differently than an auditor's `argus verify`. So: wherever the reference parses the attestation
and computes the signed bytes, argus_native answers the same signature and bytes or None (the
reference then decides); wherever the reference refuses, argus_native answers None. Imported
unconditionally, as in test_native.py: a run without the module fails instead of skipping.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import argus_native
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argus.trust.receipt_keys import attestation_checker
from argus_spec.merkle import ProofError, inclusion_proofs, leaf_hash, root_from_inclusion
from argus_spec.note import Verifier
from argus_spec.receipt import MAX_PATH, BatchSignature, attestation_bytes, batch_attestations
from processor.decode import Claims
from processor.replica import claims_policy
from tests.unit.test_native import SPECIAL, TEXT, Text

HERE = Path(__file__).resolve().parent.parent / "vectors" / "receipts"
VECTORS = json.loads((HERE / "vectors.json").read_text("utf-8"))
VERIFIER = Verifier.parse((HERE / "test-receipt.vkey").read_text("utf-8").strip())
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

STATEMENTS = st.tuples(TEXT, TEXT, st.one_of(st.none(), TEXT), TEXT)
ODD = st.one_of(st.none(), st.integers(), st.binary(max_size=4), TEXT.map(Text), st.sampled_from(["\ud800", "a\udfff"]))


def reference(attestation: Any, *statement: Any) -> tuple[bytes, bytes] | Exception:
    """What AttestationChecker computed before argus_native: signature and signed bytes, or the refusal."""
    try:
        batch = BatchSignature.parse(attestation)
        return batch.signature, batch.signed_bytes(attestation_bytes(*statement))
    except Exception as exc:  # the refusal itself is what is compared
        return exc


def assert_agrees(attestation: Any, *statement: Any) -> tuple[bytes, bytes] | None:
    expected, got = reference(attestation, *statement), argus_native.batch_message(attestation, *statement)
    if isinstance(expected, Exception):
        assert got is None, f"the reference refuses this ({expected!r}); argus_native must decline it"
    elif got is not None:
        assert got == expected
        assert [type(v) for v in got] == [bytes, bytes]
    return got


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[tuple[str, str, str | None, str]], list[str]]:
    """A request's statements and their v2 attestations, as the gateway makes them."""
    statements = draw(st.lists(STATEMENTS, min_size=1, max_size=40))
    signature = draw(st.binary(min_size=68, max_size=68))
    return statements, batch_attestations(lambda _message: signature, statements)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.data())
def test_genuine_attestations_take_the_compiled_path_and_agree(request: Any, data: st.DataObject) -> None:
    statements, attestations = request
    index = data.draw(st.integers(0, len(statements) - 1))
    assert assert_agrees(attestations[index], *statements[index]) is not None
    other = data.draw(st.sampled_from(statements))  # another leaf's statement: other bytes, same as the reference's
    assert assert_agrees(attestations[index], *other) is not None
    text = attestations[index]
    if text.endswith("="):  # the same bytes in non-canonical base64 (unused bits set): both refuse
        last = len(text.rstrip("=")) - 1
        text = text[:last] + B64[B64.index(text[last]) ^ 1] + text[last + 1 :]
        assert isinstance(reference(text, *statements[index]), Exception)
        assert assert_agrees(text, *statements[index]) is None


def path_length(index: int, size: int) -> int:
    """How many hashes the audit path of leaf `index` in a tree of `size` has (MAX_PATH + 1: none fits)."""
    for length in range(MAX_PATH + 1):
        try:
            root_from_inclusion(index, size, bytes(32), [bytes(32)] * length)
            return length
        except ProofError:
            pass
    return MAX_PATH + 1


@st.composite
def raw_attestations(draw: st.DrawFn) -> str:
    """Well-formed (any size and index, a path of the right length) or nearly: a path too long or
    short or past MAX_PATH, an index outside the tree, stray bytes, another prefix, and a
    character replaced, inserted or removed."""
    size = draw(st.one_of(st.integers(1, 70), st.integers(1, 2**32 - 1), st.sampled_from([0, 2**32 - 1])))
    index = draw(st.one_of(st.integers(0, max(0, size - 1)), st.integers(0, 2**32 - 1)))
    hashes = path_length(index, size) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    hashes = draw(st.sampled_from([max(0, hashes)] * 3 + [MAX_PATH, MAX_PATH + 1, MAX_PATH + 2]))
    tail = draw(st.binary(min_size=1, max_size=2)) if draw(st.integers(0, 5)) == 0 else b""
    raw = draw(st.binary(min_size=68, max_size=68)) + size.to_bytes(4, "big") + index.to_bytes(4, "big")
    raw += draw(st.binary(min_size=32 * hashes, max_size=32 * hashes)) + tail
    prefix = draw(st.sampled_from(["v2:"] * 12 + ["v1:", "V2:", "v2", ""]))
    text = prefix + base64.b64encode(raw).decode()
    edit = draw(st.sampled_from(["none", "replace", "insert", "delete"])) if draw(st.booleans()) else "none"
    if edit != "none":
        at = draw(st.integers(0, len(text) - 1))
        char = draw(st.sampled_from([*B64, "=", "\n", " ", "-", "_", "é", *SPECIAL]))
        text = text[:at] + (char if edit != "delete" else "") + text[at + (edit != "insert") :]
    return text


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_attestations(), STATEMENTS)
def test_argus_native_declines_what_the_reference_refuses_and_agrees_on_the_rest(
    attestation: str, statement: tuple[str, str, str | None, str]
) -> None:
    assert_agrees(attestation, *statement)


@settings(max_examples=300, deadline=None)
@given(requests(), st.data())
def test_odd_arguments_are_declined(request: Any, data: st.DataObject) -> None:
    """Not exactly a str (source: or None), or a lone surrogate: the reference decides."""
    statements, attestations = request
    arguments: list[Any] = [attestations[0], *statements[0]]
    at = data.draw(st.integers(0, len(arguments) - 1))
    arguments[at] = data.draw(ODD)
    if at == 3 and arguments[at] is None:
        return  # a null source is the common case
    assert argus_native.batch_message(*arguments) is None
    assert_agrees(*arguments)


def test_the_v2_vectors_agree_and_the_checker_decides_as_the_reference() -> None:
    """The committed requests and forgeries: a checker with argus_native accepts and refuses
    exactly what the reference checker does (each with a cache of its own)."""
    with_native = attestation_checker([VERIFIER], argus_native.batch_message)
    reference_only = attestation_checker([VERIFIER])
    receipts = [r for request in VECTORS["requests"] for r in request["receipts"]]
    receipts += [c["receipt"] for c in VECTORS["invalid"]]
    cases = [(r["attestation"], (r["id"], r["contentHash"], r["source"], r["receivedAt"])) for r in receipts]
    assert any(isinstance(a, str) and a.startswith("v2:") for a, _ in cases)
    for attestation, statement in cases:
        if isinstance(attestation, str) and attestation.startswith("v2:"):
            assert_agrees(attestation, *statement)
        assert with_native.verifies(attestation, *statement) == reference_only.verifies(attestation, *statement)
    for request in VECTORS["requests"]:
        statements = [(r["id"], r["contentHash"], r["source"], r["receivedAt"]) for r in request["receipts"]]
        root, _ = inclusion_proofs([leaf_hash(attestation_bytes(*s)) for s in statements])
        got = argus_native.batch_message(request["receipts"][0]["attestation"], *statements[0])
        assert got is not None and root.hex().encode() in got[1]


def test_the_processor_checks_attestations_through_argus_native() -> None:
    from argus.runtime.settings import load_settings

    claims: Claims = claims_policy(load_settings({"ARGUS_RECEIPT_VERIFIER_KEYS": str(HERE / "test-receipt.vkey")}))
    assert claims.checker is not None and claims.checker.native is argus_native.batch_message
