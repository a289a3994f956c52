"""The processor's per-event hot path compiled (Rust, native/src/lib.rs): record, hash, row, COPY text.

Why: chaining, the stored row and the COPY text were ~10 us of the processor's CPU per event,
all holding the GIL (docs/benchmarks.md, "Levers"). The Python reference (argus_spec.hashchain,
processor/store.py) stays what auditors run and what decides every unusual input: `chain_row`
returns None outside the common case, and tests/unit/test_native.py cross-checks the two.
"""

from argus_native._native import chain_row, copy_text

__all__ = ["chain_row", "copy_text"]
