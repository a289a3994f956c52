"""`argus verify --from-file` stands alone: an export verifies (hashes, links, signatures and the
mustSign policy) with the spec package (argus_spec) and the storage-free check side, the SDK and every
server package hidden (issue 12 item 2). The database side (argus/audit/export.py, argus/audit/verify_db.py) loads
only to read a database."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson

from argus_client.signing import PemSigner, sign_event
from argus_spec.hashchain import GENESIS_HASH, chain_record
from tests.event_samples import MINIMAL_EVENT
from tests.hidden_imports import ROOT, run_hidden

VECTORS = ROOT / "tests" / "vectors" / "signatures"
#: What the check side must never load: storage, the servers' frameworks, the SDK, the server packages.
HIDDEN = ("sqlalchemy", "psycopg2", "alembic", "aiohttp", "confluent_kafka", "faust", "aiokafka", "boto3",
          "argus_client", "argus.db", "argus.audit.export", "argus.audit.verify_db", "ingest_gateway", "processor",
          "sinks")  # fmt: skip
#: `argus verify --from-file FILE --json [ARGS]` in a fresh interpreter where importing a hidden package fails.
CHECK = """
import argparse
from argus.audit import verify

parser = argparse.ArgumentParser()
verify.register(parser.add_subparsers())
code = verify.run(parser.parse_args(["verify", "--from-file", *sys.argv[1:], "--json", "--quiet"]))
print(json.dumps({"code": code}))
"""


def _export(path: Path, count: int) -> list[dict[str, Any]]:
    """An `argus export`-shaped file: one actor's chain, every third event signed (Ed25519)."""
    signer = PemSigner.from_pem((VECTORS / "test-ed25519-2026.private.pem").read_bytes(), "ed-2026")
    records, previous = [], GENESIS_HASH
    for seq in range(1, count + 1):
        event = {**MINIMAL_EVENT, "id": f"0190a0a0-0000-7000-8000-{seq:012x}", "metadata": {"n": seq}}
        event = sign_event(event, signer) if seq % 3 == 0 else event
        record = chain_record(event, source="default", received_at="2026-03-04T05:06:08.000000Z", seq=seq,
                              previous_hash=previous)  # fmt: skip
        previous = record["currentHash"]
        records.append(record)
    _write(path, records)
    return records


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def _verify(*args: Path | str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "ARGUS_KEYS_CONFIG"}
    (report_line, meta_line), loaded = run_hidden(HIDDEN, "the check side", CHECK, *args, env=env)
    assert loaded == []
    return json.loads(meta_line)["code"], json.loads(report_line)


def _keys(tmp_path: Path, must_sign: str = "") -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n  - id: ed-2026\n    pemFile: {VECTORS / 'test-ed25519-2026.pem'}\n" + must_sign)
    return path


def test_an_export_verifies_with_server_packages_hidden(tmp_path: Path) -> None:
    export = tmp_path / "export.ndjson"
    _export(export, 30)
    code, report = _verify(export, "--keys", _keys(tmp_path))
    assert code == 0 and report["ok"] and report["records"] == 30 and report["signaturesChecked"]


def test_a_tampered_export_fails_with_server_packages_hidden(tmp_path: Path) -> None:
    export = tmp_path / "export.ndjson"
    records = _export(export, 30)
    records[11]["action"] = "DELETE"  # seq 12, not re-hashed
    del records[20]  # seq 21
    _write(export, records)
    code, report = _verify(export)
    assert code == 1 and not report["ok"] and not report["signaturesChecked"]
    assert [(b["seq"], b["kind"]) for b in report["breaks"]] == [(12, "modified"), (21, "missing")]


def test_signatures_and_policy_fail_with_server_packages_hidden(tmp_path: Path) -> None:
    export = tmp_path / "export.ndjson"
    records = _export(export, 12)
    forged = records[2]  # seq 3, signed
    forged["signature"] = ("B" if forged["signature"][0] == "A" else "A") + forged["signature"][1:]
    _write(export, records)
    keys = _keys(tmp_path, must_sign="mustSign:\n  - actorId: svc-orders\n")
    code, report = _verify(export, "--keys", keys)
    kinds = {(b["seq"], b["kind"]) for b in report["breaks"]}
    assert code == 1 and (3, "bad_signature") in kinds
    assert {(1, "unsigned"), (2, "unsigned")} <= kinds  # unsigned although the policy says svc-orders signs
