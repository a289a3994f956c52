"""The transparency log's tables, the backfill of old partitions, and the witness that cosigns it."""
