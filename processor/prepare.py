"""Step 2 of a batch (after processor/decode.py reads each message): decode → validate → verify.

Preparing needs no database and no per-partition state, so batch N+1 is prepared in a worker
thread while batch N is stored (processor/pipeline.py); which messages are fresh is decided
when storing (processor/chain.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from argus.trust.signatures import BatchVerifier
from processor.decode import Claims, Decoded, RawMessage, Rejected, decode_message


@dataclass(frozen=True)
class Refused:
    """Why a message cannot be stored (its dead-letter reason); `signature` marks a failed verification."""

    reason: str
    signature: bool = False


@dataclass(frozen=True)
class PreparedBatch:
    """A batch decoded, validated and signature-checked, one outcome per message (same order)."""

    messages: Sequence[RawMessage]
    outcomes: Sequence[Decoded | Refused]


class Preparer:
    """Decodes, validates and verifies batches against one enum configuration, signature
    verifier and claims policy (CPU only; call it in a worker thread)."""

    def __init__(self, enums: Any, verifier: BatchVerifier, claims: Claims | None = None) -> None:
        self._enums = enums
        self._verify = verifier
        self._claims = claims or Claims()

    def __call__(self, messages: Sequence[RawMessage]) -> PreparedBatch:
        outcomes: list[Decoded | Refused] = []
        decoded: list[Decoded] = []
        for message in messages:
            try:
                item = decode_message(message, self._enums, self._claims)
            except Rejected as exc:
                outcomes.append(Refused(exc.reason))
                continue
            outcomes.append(item)
            decoded.append(item)
        reasons = iter(self._verify([d.event for d in decoded], [d.source for d in decoded]) if decoded else [])
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Decoded) and (reason := next(reasons)) is not None:
                outcomes[index] = Refused(reason, signature=True)
        return PreparedBatch(messages, outcomes)
