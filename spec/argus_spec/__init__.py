"""The Argus specification in code: what an event, a record, a signature, a checkpoint, a proof and a
receipt are, and how each is checked.

Its own distribution (`argus-spec`) so that an auditor verifies an export, a receipt or a proof
with it alone: it needs `cryptography`, `orjson`, `rfc8785` and PyYAML, never an HTTP client,
Kafka or a database driver (tests/unit/test_spec_stands_alone.py). The SDK (argus_client) and the
servers build on it; nothing here imports them.
"""
