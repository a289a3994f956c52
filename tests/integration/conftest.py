"""The end-to-end `stack` fixture shared by the integration modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import Stack, running_stack


@pytest.fixture
def stack(
    kafka_bootstrap: str, pg_url: str, unique_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Fresh topics, consumer group and schema; processes are started by the test. A module may
    set `STACK_ENV` (extra ARGUS_* settings for the services it starts)."""
    extra_env = dict(getattr(request.module, "STACK_ENV", {}))
    with running_stack(kafka_bootstrap, pg_url, unique_name, tmp_path, extra_env=extra_env) as running:
        yield running
