"""The processor's per-event hot path compiled (Rust, native/src/lib.rs): record, hash, row, COPY text,
and the per-event work of checking a v2 attestation.

Why: chaining, the stored row and the COPY text were ~10 us of the processor's CPU per event,
all holding the GIL, and a v2 attestation's parse and audit path ~9 us more (docs/benchmarks.md,
"Levers"). The Python reference (argus_spec.hashchain, processor/store.py, argus_spec.receipt)
stays what auditors run and what decides every unusual input: `chain_row` and `batch_message`
return None outside the common case, and tests/unit/test_native.py cross-checks the two.
"""

from argus_native._native import batch_message, chain_row, copy_text

__all__ = ["batch_message", "chain_row", "copy_text"]
