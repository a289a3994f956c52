"""Fault injection for crash tests: die at an exact point of the batch protocol.

`ARGUS_FAULT_CRASH=<point>:<n>` makes the process exit abruptly (os._exit, like SIGKILL: no
cleanup, no offset commit) the n-th time it reaches `<point>`. Points: `before_commit` (the
transaction is about to be sent) and `after_commit` (the database has the batch, Kafka's
consumer offset does not). Unset in production; read once at import.
"""

from __future__ import annotations

import os

_SPEC = os.environ.get("ARGUS_FAULT_CRASH", "")
_POINT, _, _COUNT = _SPEC.partition(":")
_remaining = int(_COUNT) if _COUNT.isdigit() else 0


def checkpoint(point: str) -> None:
    global _remaining
    if _remaining and point == _POINT:
        _remaining -= 1
        if _remaining == 0:
            os._exit(137)
