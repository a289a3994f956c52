"""Fixtures that give every test real servers: Kafka and PostgreSQL.

Servers come from ARGUS_TEST_KAFKA_BOOTSTRAP / ARGUS_TEST_DATABASE_URL (started by
`deploy/local/services.sh start`), or from testcontainers when a Docker engine is reachable.
With neither, the test fails with a message saying how to start them: never a silent skip.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOW_TO_START = "run `deploy/local/services.sh start` and `source .local/env.sh` (or make a Docker engine reachable)"


def _docker_reachable() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker."""
    bootstrap = os.environ.get("ARGUS_TEST_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield bootstrap
        return
    if not _docker_reachable():
        pytest.fail(f"no Kafka for tests: ARGUS_TEST_KAFKA_BOOTSTRAP is unset and no Docker engine; {HOW_TO_START}")
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as container:
        yield container.get_bootstrap_server()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a real PostgreSQL database the tests may create schemas in."""
    url = os.environ.get("ARGUS_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if not _docker_reachable():
        pytest.fail(f"no PostgreSQL for tests: ARGUS_TEST_DATABASE_URL is unset and no Docker engine; {HOW_TO_START}")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15", driver="psycopg2") as container:
        yield container.get_connection_url()


@pytest.fixture
def pg_url(database_url: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL schema for one test, dropped afterwards."""
    from argus.db.private_schema import private_schema

    with private_schema(database_url, "t") as schema:
        yield schema.url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated embedded SQLite store for one test."""
    from argus.db import migrate

    url = f"sqlite:///{tmp_path / 'argus.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def unique_name() -> str:
    """A short unique suffix for topics and consumer groups, so tests never share state."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def python_executable() -> str:
    return sys.executable
