"""The compiled hot path, argus_native (native/), or None where it is not installed or is stale.

Why: a chained record, its stored row and the batch's COPY text cost ~10 us of the processor's
CPU per event, all holding the GIL; argus_native does the same work in Rust (docs/benchmarks.md,
"Levers"). The Python reference stays the one that decides: argus_native answers None for any
input outside the common case, and processor/chain.py then runs argus_spec.hashchain.chain_record
and processor/store.py's stored_row, which produce the record or raise exactly as before.
deploy/local/install.sh builds the module; an image built without a Rust toolchain
(deploy/container/Dockerfile) runs the reference alone. A build older than this checkout (one
without a function the processor calls; `pip install ./native` rebuilds it) is not used either:
the processor would otherwise fail at start-up or on its first batch.
"""

from __future__ import annotations

from types import ModuleType

#: Every argus_native function the processor calls.
REQUIRED = ("chain_row", "copy_text", "batch_message")


def usable(module: ModuleType) -> ModuleType | None:
    """`module` if it has every function in REQUIRED, else None (a stale build: the reference runs)."""
    return module if all(callable(getattr(module, name, None)) for name in REQUIRED) else None


NATIVE: ModuleType | None
try:
    import argus_native
except ImportError:  # installed without a Rust toolchain: the reference does everything
    NATIVE = None
else:
    NATIVE = usable(argus_native)
