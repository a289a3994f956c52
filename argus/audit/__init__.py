"""The auditor's side: export the stored trail and verify it (chains, signatures, receipts, checkpoints)."""
