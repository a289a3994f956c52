"""The end-to-end `stack` and `gateway` fixtures shared by the integration modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from argus.runtime.settings import load_settings
from ingest_gateway.app import init
from tests.integration.harness import Stack, running_stack


@pytest.fixture
def stack_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Extra ARGUS_* settings for the services a test starts: the module's `STACK_ENV`. A module
    whose settings depend on the test (a file in tmp_path) overrides this fixture instead."""
    return dict(getattr(request.module, "STACK_ENV", {}))


@pytest.fixture
def stack(
    kafka_bootstrap: str, pg_url: str, unique_name: str, tmp_path: Path, stack_env: dict[str, str]
) -> Iterator[Stack]:
    """Fresh topics, consumer group and schema; processes are started by the test."""
    with running_stack(kafka_bootstrap, pg_url, unique_name, tmp_path, extra_env=stack_env) as running:
        yield running


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[TestClient[Any, Any]]:
    """An in-process gateway on the stack's settings (a module with its own needs defines its own)."""
    client = TestClient(TestServer(init(load_settings(stack.settings_env()))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
