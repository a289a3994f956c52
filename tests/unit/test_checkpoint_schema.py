"""The published JSON Schema of the checkpoints topic's messages (argus/schemas, docs/schemas):
it accepts a real signed checkpoint (made with the processor's own signer code) and rejects what
a message of that topic never is. Messages a real processor published are validated against it
in tests/integration/test_transparency.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from argus import schemas
from argus_spec.note import Signer
from argus_spec.tlog import Checkpoint

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemas.load(schemas.CHECKPOINT_MESSAGE)
VALIDATOR = Draft202012Validator(SCHEMA)
ORIGIN = "argus.example/argus.events/3"


def _message() -> dict[str, str]:
    note = Signer.generate("argus.example").sign(Checkpoint(ORIGIN, 42, bytes(range(32))).text())
    return {"key": ORIGIN, "value": note}


def test_schema_is_valid_shipped_twice_and_accepts_a_signed_checkpoint() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    name = schemas.CHECKPOINT_MESSAGE
    assert (ROOT / "docs/schemas" / name).read_bytes() == (ROOT / "argus/schemas" / name).read_bytes()
    VALIDATOR.validate(_message())


@pytest.mark.parametrize(
    "change",
    [
        lambda m: {**m, "value": m["value"].replace("\n42\n", "\n042\n")},  # size with a leading zero
        lambda m: {**m, "value": m["value"].split("\n\n")[0] + "\n"},  # unsigned
        lambda m: {**m, "value": m["value"].replace("\u2014 ", "- ")},  # not a note signature line
        lambda m: {**m, "key": "argus.example/argus.events/x"},  # no partition
        lambda m: {**m, "extra": "1"},
        lambda m: {"key": m["key"]},
    ],
)
def test_what_a_checkpoint_message_never_is_is_rejected(change: Callable[[dict[str, str]], dict[str, str]]) -> None:
    assert not VALIDATOR.is_valid(change(_message()))
