"""Shared server code, grouped by role: trust, kafka, db, tlog, audit, runtime, schemas (docs/architecture.md)."""
