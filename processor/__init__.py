"""The processor: the single writer per partition that verifies, hash-chains and commits events."""
