"""The compiled hot path, argus_native (native/), or None where it is not installed.

Why: a chained record, its stored row and the batch's COPY text cost ~10 us of the processor's
CPU per event, all holding the GIL; argus_native does the same work in Rust (docs/benchmarks.md,
"Levers"). The Python reference stays the one that decides: argus_native answers None for any
input outside the common case, and processor/chain.py then runs argus_spec.hashchain.chain_record
and processor/store.py's stored_row, which produce the record or raise exactly as before.
deploy/local/install.sh builds the module; an image built without a Rust toolchain
(deploy/container/Dockerfile) runs the reference alone.
"""

from __future__ import annotations

from types import ModuleType

NATIVE: ModuleType | None
try:
    import argus_native as NATIVE
except ImportError:  # installed without a Rust toolchain: the reference does everything
    NATIVE = None
