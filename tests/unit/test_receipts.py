"""Signed ingest receipts against the committed vectors (docs/receipts.md): the spec's signer and
verifier (argus_client.receipt), the server's fast ones (argus.receipts) and the key command."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from argus.cli import main as argus_main
from argus.config import load_settings
from argus.receipts import ReceiptSigner, attestation_checker, load_receipt_verifiers
from argus_client.enums import EnumConfig
from argus_client.hashchain import validate_storable_event
from argus_client.jcs import CanonicalizationError, canonicalize_exact
from argus_client.note import Signer, Verifier
from argus_client.receipt import (
    CONTENT_FIELDS,
    ReceiptError,
    attestation_bytes,
    check,
    content_digest,
    receipt_bytes,
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
