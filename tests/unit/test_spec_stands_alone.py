"""The specification package stands alone: every argus_spec module imports, and an export's records
hash, chain and verify, with the SDK, the servers, HTTP, Kafka and database libraries unimportable
(issue 12 item 1). That is what lets an auditor check an export, a receipt or a proof with
`pip install argus-spec` alone."""

from __future__ import annotations

import json
import pkgutil

import argus_spec
from tests.hidden_imports import run_hidden

#: What the specification must never need.
HIDDEN = ("aiohttp", "confluent_kafka", "sqlalchemy", "psycopg2", "alembic", "faust", "aiokafka", "boto3",
          "argus", "argus_client", "ingest_gateway", "processor", "sinks")  # fmt: skip
#: Imports the modules named on the command line, then chains and verifies a short trail.
CHECK = """
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)

from argus_spec.enums import EnumConfig
from argus_spec.event import validate_event
from argus_spec.hashchain import GENESIS_HASH, ChainVerifier, chain_record

previous, verifier, breaks = GENESIS_HASH, ChainVerifier(), []
for seq in range(1, 4):
    event = validate_event({"timestamp": "2026-03-04T05:06:07Z", "action": "READ", "status": "SUCCESS",
                            "actorType": "SERVICE", "actorId": "billing", "targetType": "RESOURCE",
                            "targetId": "invoice-7", "metadata": {"n": seq}}, EnumConfig())
    record = chain_record(event, source="default", received_at="2026-03-04T05:06:08.000000Z", seq=seq,
                          previous_hash=previous)
    previous = record["currentHash"]
    breaks += verifier.feed(record)
breaks += verifier.finish()
print(json.dumps({"records": verifier.records, "breaks": len(breaks)}))
"""


def _spec_modules() -> list[str]:
    return sorted(f"argus_spec.{m.name}" for m in pkgutil.iter_modules(argus_spec.__path__))


def test_the_spec_has_the_modules_an_auditor_needs() -> None:
    names = {name.rsplit(".", 1)[1] for name in _spec_modules()}
    assert {"event", "enums", "canonical", "jcs", "gojson", "exactjson", "hashchain", "signature", "envelope",
            "merkle", "note", "tiles", "tlog", "tlog_verify", "proofs", "cosignature", "receipt"} <= names  # fmt: skip


def test_every_spec_module_imports_with_sdk_servers_and_drivers_hidden() -> None:
    (result,), loaded = run_hidden(HIDDEN, "the specification", CHECK, *_spec_modules())
    assert loaded == []
    assert json.loads(result) == {"records": 3, "breaks": 0}
