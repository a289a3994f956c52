"""Published JSON Schemas of what Argus writes for others to read (docs/committed-topic.md).

Versioned by file name: a consumer pins `committed-record.v1.json`; a new field or a changed type
ships as v2 beside it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

COMMITTED_RECORD = "committed-record.v1.json"
CHECKPOINT_MESSAGE = "checkpoint-message.v1.json"  # the checkpoints topic, key and value as UTF-8


def load(name: str = COMMITTED_RECORD) -> dict[str, Any]:
    """A schema shipped in this package, parsed."""
    schema: dict[str, Any] = json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
    return schema
