"""Signed ingest receipts against the committed vectors (docs/receipts.md): the spec's signer and
verifier (argus_spec.receipt), the server's fast ones (argus.trust.receipt_keys) and the key command."""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argus.db.admission import validate_storable_event
from argus.runtime.settings import load_settings
from argus.trust.receipt_keys import ReceiptSigner, attestation_checker, load_receipt_verifiers
from argus_client.receipt_keeper import ReceiptKeeper
from argus_commands.main import main as argus_main
from argus_spec.enums import EnumConfig
from argus_spec.jcs import CanonicalizationError, canonicalize_exact
from argus_spec.merkle import inclusion_proof, inclusion_proofs, leaf_hash, leaf_source, root_hash, verify_inclusion
from argus_spec.note import Signer, Verifier
from argus_spec.receipt import (
    BATCH_CONTEXT,
    CONTENT_FIELDS,
    MAX_PATH,
    RECEIPT_BATCH_CONTEXT,
    BatchSignature,
    ReceiptError,
    attestation_bytes,
    batch_bytes,
    batch_sign,
    check,
    check_attestation,
    content_digest,
    receipt_bytes,
    sign_attestations,
    sign_receipts,
    verify_receipt,
)

HERE = Path(__file__).resolve().parent.parent / "vectors" / "receipts"
VECTORS = json.loads((HERE / "vectors.json").read_text(encoding="utf-8"))
VERIFIER = Verifier.parse(VECTORS["verifierKey"])
SIGNER = Signer.parse((HERE / "test-receipt.key").read_text())


def test_the_committed_vectors_are_what_the_generator_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("receipt_vectors", HERE / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (HERE / "vectors.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["receipt"]["id"])
def test_valid_vectors_hash_sign_and_verify(case: dict[str, Any]) -> None:
    event, metadata_text = validate_storable_event(copy.deepcopy(case["event"]), EnumConfig(), assign_id=False)
    assert metadata_text == case["metadataText"]
    assert content_digest(event, metadata_text).hex() == case["contentHash"]
    receipt = case["receipt"]
    signed = attestation_bytes(receipt["id"], receipt["contentHash"], receipt["source"], receipt["receivedAt"])
    assert signed.decode() == case["attestationBytes"]
    assert receipt_bytes(receipt).decode() == case["receiptBytes"]
    verify_receipt(receipt, [VERIFIER])
    # The server's libsodium signer makes the same (deterministic) signatures; its checker agrees.
    server = ReceiptSigner(SIGNER)
    assert server.attest(receipt["id"], receipt["contentHash"], receipt["source"], receipt["receivedAt"]) == (
        receipt["attestation"]
    )
    statement = {k: v for k, v in receipt.items() if k not in ("v", "signature")}
    assert server.receipt(statement) == receipt
    checker = attestation_checker([VERIFIER])
    assert checker.verifies(receipt["attestation"], receipt["id"], receipt["contentHash"], receipt["source"],
                            receipt["receivedAt"])  # fmt: skip
    assert not checker.verifies(receipt["attestation"], receipt["id"], receipt["contentHash"], "other",
                                receipt["receivedAt"])  # fmt: skip
    assert not attestation_checker([]).verifies(receipt["attestation"], receipt["id"], receipt["contentHash"],
                                                receipt["source"], receipt["receivedAt"])  # fmt: skip


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["changed"])
def test_invalid_vectors_are_refused_naming_the_field(case: dict[str, Any]) -> None:
    with pytest.raises(ReceiptError) as info:
        verify_receipt(case["receipt"], [VERIFIER])
    assert re.match(rf"(receipt |attestation )?{case['error']}\b", str(info.value)), str(info.value)


def test_a_receipt_by_an_unknown_key_is_refused() -> None:
    receipt = VECTORS["valid"][0]["receipt"]
    with pytest.raises(ReceiptError, match="unknown key"):
        verify_receipt(receipt, [Signer.generate("someone").verifier])
    with pytest.raises(ReceiptError, match="base64"):
        check([VERIFIER], b"x", "not base64!")


def test_a_receipt_rfc8785_cannot_write_is_refused_not_raised() -> None:
    """One malformed receipt in a file must be reported (`bad_receipt`, the SDK's failure list), not
    abort `argus verify --receipts` or the SDK's loop over all of them (it raised CanonicalizationError)."""
    good = VECTORS["requests"][0]["receipts"][0]
    for changed in ({"offset": 2**53}, {"partition": 2**64}, {"attestation": float("nan")}, {"id": "\ud800"},
                    {"source": "a\udfff"}):  # fmt: skip
        with pytest.raises(ReceiptError):
            verify_receipt({**good, **changed}, [VERIFIER])
    keeper, bad = ReceiptKeeper(), {**good, "offset": 2**53}
    keeper.keep([bad, good])
    [(receipt, reason)] = keeper.verify([VERIFIER])
    assert receipt == bad and reason.startswith("offset")


@given(st.lists(st.one_of(st.none(), st.text()), min_size=len(CONTENT_FIELDS), max_size=len(CONTENT_FIELDS)))
def test_the_content_digest_is_over_the_rfc8785_array(values: list[str | None]) -> None:
    """The spec says RFC 8785; the code writes the array with orjson (the same bytes for strings and null)."""
    import hashlib

    event = dict(zip(CONTENT_FIELDS, values, strict=True))
    try:
        expected = hashlib.sha256(canonicalize_exact([event[f] for f in CONTENT_FIELDS])).digest()
        digest = content_digest(event, event["metadata"])
    except (orjson.JSONEncodeError, CanonicalizationError):
        return  # lone surrogates: neither the gateway nor the processor accepts such text
    assert digest == expected


def test_receipt_key_command_writes_a_key_the_services_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "receipt.key"
    assert argus_main(["receipt-key", "--out", str(key)]) == 0
    printed = Verifier.parse(capsys.readouterr().out.strip())
    assert key.stat().st_mode & 0o777 == 0o600
    assert argus_main(["receipt-key", "--out", str(key)]) == 2  # never overwritten by accident
    settings = load_settings({"ARGUS_RECEIPT_KEY": str(key)})
    assert load_receipt_verifiers(settings) == [printed]
    only_public = load_settings({"ARGUS_RECEIPT_VERIFIER_KEYS": f"{printed.encode()},{HERE / 'test-receipt.vkey'}"})
    assert load_receipt_verifiers(only_public) == [printed, VERIFIER]


@pytest.mark.parametrize("request_case", VECTORS["requests"], ids=lambda c: f"size-{c['treeSize']}")
def test_v2_vectors_one_signature_per_request(request_case: dict[str, Any]) -> None:
    """The request's tree, signed bytes and paths are what the spec computes; the spec's and the
    server's checks accept every event's attestation, and the server signs the same bytes."""
    receipts = request_case["receipts"]
    statements = [(r["id"], r["contentHash"], r["source"], r["receivedAt"]) for r in receipts]
    leaves = [leaf_hash(attestation_bytes(*statement)) for statement in statements]
    assert [leaf.hex() for leaf in leaves] == request_case["leafHashes"]
    root, paths = inclusion_proofs(leaves)
    assert root.hex() == request_case["rootHash"] and [[h.hex() for h in p] for p in paths] == request_case["paths"]
    assert batch_bytes(len(leaves), root).decode() == request_case["batchBytes"]
    assert ReceiptSigner(SIGNER).attest_batch(statements) == [r["attestation"] for r in receipts]
    # The receipts' own tree: leaves are the v1 receipt bytes, signed once under "argus.receipt.v2".
    receipt_leaves = [leaf_hash(receipt_bytes(r)) for r in receipts]
    assert [leaf.hex() for leaf in receipt_leaves] == request_case["receiptLeafHashes"]
    receipt_root, receipt_paths = inclusion_proofs(receipt_leaves)
    assert receipt_root.hex() == request_case["receiptRootHash"]
    assert [[h.hex() for h in p] for p in receipt_paths] == request_case["receiptPaths"]
    assert batch_bytes(len(receipts), receipt_root, RECEIPT_BATCH_CONTEXT).decode() == request_case["receiptBatchBytes"]
    unsigned = [{k: v for k, v in r.items() if k not in ("v", "signature")} for r in receipts]
    assert ReceiptSigner(SIGNER).receipts(unsigned) == receipts == sign_receipts(SIGNER, unsigned)
    checker = attestation_checker([VERIFIER])
    for raw, receipt, statement in zip(request_case["events"], receipts, statements, strict=True):
        event, metadata_text = validate_storable_event(copy.deepcopy(raw), EnumConfig(), assign_id=False)
        assert content_digest(event, metadata_text).hex() == receipt["contentHash"]
        verify_receipt(receipt, [VERIFIER])
        assert check_attestation([VERIFIER], statement, receipt["attestation"]) == VERIFIER
        assert checker.verifies(receipt["attestation"], *statement)
        assert not checker.verifies(receipt["attestation"], statement[0], statement[1], "other", statement[3])


@pytest.mark.parametrize("case", [c for c in VECTORS["invalid"] if c["changed"].startswith("attestation (")],
                         ids=lambda c: c["changed"])  # fmt: skip
def test_the_server_refuses_the_invalid_v2_attestations(case: dict[str, Any]) -> None:
    receipt = case["receipt"]
    checker = attestation_checker([VERIFIER])
    genuine = VECTORS["requests"][0]["receipts"][0]["attestation"]
    statement = (receipt["id"], receipt["contentHash"], receipt["source"], receipt["receivedAt"])
    assert checker.verifies(genuine, *statement)  # the genuine signature is cached now...
    assert not checker.verifies(receipt["attestation"], *statement)  # ...and no forgery rides on it


def test_the_verified_signature_cache_is_bounded_and_keyed_by_what_was_signed() -> None:
    signer = ReceiptSigner(SIGNER)
    checker = attestation_checker([VERIFIER])
    object.__setattr__(checker, "cache_size", 2)
    requests = [[(str(i * 10 + j), "ab" * 32, "svc", "2026-01-01T00:00:00.000000Z") for j in range(3)]
                for i in range(5)]  # fmt: skip
    for statements in requests:
        for statement, attestation in zip(statements, signer.attest_batch(statements), strict=True):
            assert checker.verifies(attestation, *statement)
            assert len(checker._verified) <= 2
    # Each leaf's path under another statement of its request leads elsewhere, cached or not.
    statements = requests[-1]
    attestations = signer.attest_batch(statements)
    assert not checker.verifies(attestations[0], *statements[1])
    assert not checker.verifies(attestations[2], *statements[0])
    assert not checker.verifies("v2:" + "A" * 4, *statements[0])


@settings(deadline=None)  # hypothesis's deadline is a timing assertion: this 2-core machine is shared
@given(st.integers(min_value=1, max_value=70))
def test_every_inclusion_proof_of_a_tree_at_once_matches_one_at_a_time(size: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    root, paths = inclusion_proofs(leaves)
    source = leaf_source(leaves)
    assert root == root_hash(source, size)
    for index, path in enumerate(paths):
        assert path == inclusion_proof(source, index, size)
        verify_inclusion(index, size, leaves[index], path, root)


def test_a_v2_attestation_has_one_encoding_and_a_bounded_path() -> None:
    [attestation] = sign_attestations(SIGNER, [("id", "ab" * 32, None, "2026-01-01T00:00:00.000000Z")])
    parsed = BatchSignature.parse(attestation)
    assert (parsed.leaf_index, parsed.tree_size, list(parsed.path)) == (0, 1, [])
    assert parsed.encode() == attestation
    too_long = BatchSignature(parsed.signature, 0, 1, (b"\0" * 32,) * (MAX_PATH + 1)).encode()
    for bad in (too_long, attestation + "A", "v2:é", attestation.replace("v2:", "v3:")):
        with pytest.raises(ReceiptError):
            BatchSignature.parse(bad)
    assert sign_attestations(SIGNER, []) == []


@given(st.integers(min_value=0, max_value=2**32 - 1), st.binary(min_size=32, max_size=32))
def test_batch_bytes_are_the_rfc8785_form(tree_size: int, root: bytes) -> None:
    expected = b"argus.attestation.v2\n" + canonicalize_exact({"treeSize": tree_size, "rootHash": root.hex()})
    assert batch_bytes(tree_size, root) == expected
    expected = b"argus.receipt.v2\n" + canonicalize_exact({"treeSize": tree_size, "rootHash": root.hex()})
    assert batch_bytes(tree_size, root, RECEIPT_BATCH_CONTEXT) == expected


_RECEIPTS_SIGNER = ReceiptSigner(SIGNER)


@settings(deadline=None, max_examples=50)  # no timing assertion: each example signs and verifies up to 40
@given(st.integers(min_value=1, max_value=40), st.data())
def test_a_v2_receipt_signature_binds_its_own_receipt_only(size: int, data: st.DataObject) -> None:
    """Every receipt of a request verifies; a signature moved to another receipt of the request, or
    the request's receipts under an attestation's v2 signature of the same tree, do not."""
    statements = [{"id": f"id{i}", "contentHash": "ab" * 32, "source": "svc", "receivedAt": "2026-01-01T00:00:00Z",
                   "topic": "t", "partition": 0, "offset": i, "attestation": None} for i in range(size)]  # fmt: skip
    receipts = _RECEIPTS_SIGNER.receipts(statements)
    for receipt in receipts:
        verify_receipt(receipt, [VERIFIER])
    if size > 1:
        i, j = data.draw(st.sampled_from([(i, j) for i in range(size) for j in range(size) if i != j][:50]))
        with pytest.raises(ReceiptError, match=r"^receipt signature"):
            verify_receipt({**receipts[i], "signature": receipts[j]["signature"]}, [VERIFIER])
    # Domain separation: the same messages signed as a v2 *attestation* tree are no receipt signatures.
    attestation_signed = batch_attestations_of([receipt_bytes(r) for r in receipts])
    with pytest.raises(ReceiptError, match=r"^receipt signature"):
        verify_receipt({**receipts[0], "signature": attestation_signed[0]}, [VERIFIER])


def batch_attestations_of(messages: list[bytes]) -> list[str]:
    return batch_sign(_RECEIPTS_SIGNER._sign_raw, BATCH_CONTEXT, messages)


_statement_text = st.text(st.characters(codec=None) | st.sampled_from(["\ud800", "\x00", "\u2028", "😀", '"']))


@given(_statement_text, _statement_text, st.none() | _statement_text, _statement_text)
def test_attestation_bytes_are_the_rfc8785_form(record_id: str, content_hash: str, source: str | None,
                                                received_at: str) -> None:  # fmt: skip
    """The written-out statement == the context and canonicalize of the statement (or both refuse)."""
    statement = {"id": record_id, "contentHash": content_hash, "source": source, "receivedAt": received_at}
    try:
        expected: bytes | str = b"argus.attestation.v1\n" + canonicalize_exact(statement)
    except CanonicalizationError:
        expected = "refused"
    try:
        actual: bytes | str = attestation_bytes(record_id, content_hash, source, received_at)
    except CanonicalizationError:
        actual = "refused"
    assert actual == expected


def _reference_parse(text: str) -> tuple[bytes, int, int, list[bytes]] | str:
    """BatchSignature.parse as docs/receipts.md states it, with base64.b64decode: the outcome or the error."""
    if not text.startswith("v2:"):
        return "prefix"
    try:
        raw = base64.b64decode(text[3:], validate=True)
    except ValueError:
        return "not base64"
    if len(raw) < 76 or (len(raw) - 76) % 32 or (len(raw) - 76) // 32 > MAX_PATH:
        return "size"
    if base64.b64encode(raw).decode() != text[3:]:
        return "not canonical"
    path = [raw[i : i + 32] for i in range(76, len(raw), 32)]
    return raw[:68], int.from_bytes(raw[72:76], "big"), int.from_bytes(raw[68:72], "big"), path


_V2 = sign_attestations(SIGNER, [(f"id{i}", "ab" * 32, None, "2026-01-01T00:00:00.000000Z") for i in range(5)])


@given(st.sampled_from(_V2), st.integers(0, 200), st.text(st.sampled_from("AQ/+=é\n v2:"), max_size=3))
def test_parse_equals_the_reference_on_mangled_attestations(attestation: str, at: int, insert: str) -> None:
    text = attestation[:at] + insert + attestation[at + len(insert) // 2 :]
    expected = _reference_parse(text)
    try:
        parsed = BatchSignature.parse(text)
    except ReceiptError as exc:
        assert isinstance(expected, str), exc
    else:
        assert expected == (parsed.signature, parsed.leaf_index, parsed.tree_size, list(parsed.path))
