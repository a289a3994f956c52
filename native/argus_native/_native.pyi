from collections.abc import Iterable, Mapping
from typing import Any

def chain_row(
    event: Mapping[str, Any],
    source: str | None,
    received_at: str,
    seq: int,
    previous_hash: str,
    metadata_text: str | None,
    topic: str,
    partition: int,
    offset: int,
    commit_seq: int,
    attestation: str | None,
    unattested_claim: bool,
) -> tuple[dict[str, Any], tuple[Any, ...]] | None: ...
def copy_text(rows: Iterable[Iterable[Any]]) -> bytes: ...
def batch_message(
    attestation: object, record_id: object, content_hash: object, source: object, received_at: object
) -> tuple[bytes, bytes] | None: ...
