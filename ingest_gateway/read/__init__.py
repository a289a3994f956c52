"""The read API: records, summaries, chain verification, and the transparency log's endpoints."""
