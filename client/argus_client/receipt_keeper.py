"""Where the SDK keeps the receipts the gateway returns: in memory and, optionally, in a file.

A receipt is the client's evidence that the gateway accepted an event (docs/receipts.md). The
file gets one JSON receipt per line, appended and flushed as answers arrive, so it survives the
process and is exactly what `argus verify --receipts FILE` reads. Memory keeps the newest
`memory` receipts (the file keeps all).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from argus_spec import exactjson
from argus_spec.note import Verifier
from argus_spec.receipt import ReceiptError, verify_receipt


class ReceiptKeeper:
    def __init__(self, path: str | os.PathLike[str] | None = None, memory: int = 100_000) -> None:
        self.path = os.fspath(path) if path is not None else None
        self._kept: deque[dict[str, Any]] = deque(maxlen=memory)
        self._lock = threading.Lock()

    def keep(self, receipts: Iterable[Any]) -> None:
        fresh = [r for r in receipts if isinstance(r, dict)]
        if not fresh:
            return
        with self._lock:
            self._kept.extend(fresh)
            if self.path is not None:
                with open(self.path, "ab") as handle:
                    handle.write(b"".join(exactjson.dumps(r) + b"\n" for r in fresh))

    @property
    def receipts(self) -> list[dict[str, Any]]:
        """The receipts kept in memory, oldest first."""
        with self._lock:
            return list(self._kept)

    def verify(self, verifiers: Sequence[Verifier | str]) -> list[tuple[dict[str, Any], str]]:
        """Each receipt in memory that does not verify with the gateway's key(s), with the reason."""
        keys = [Verifier.parse(v) if isinstance(v, str) else v for v in verifiers]
        failures = []
        for receipt in self.receipts:
            try:
                verify_receipt(receipt, keys)
            except ReceiptError as exc:
                failures.append((receipt, str(exc)))
        return failures
