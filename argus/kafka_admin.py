"""Topic management with confluent-kafka's AdminClient."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger(__name__)


def ensure_topic(client_config: dict[str, Any], name: str, partitions: int, timeout: float = 30.0) -> None:
    """Create `name` with `partitions` partitions unless it exists (an existing topic is left as is)."""
    admin = AdminClient(client_config)
    metadata = admin.list_topics(timeout=timeout)
    if name in metadata.topics and metadata.topics[name].error is None:
        return
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=-1)])
    try:
        futures[name].result(timeout)
        log.info("created topic %s with %d partitions", name, partitions)
    except KafkaException as exc:
        if exc.args and exc.args[0].name() == "TOPIC_ALREADY_EXISTS":
            return
        raise


def partition_count(client_config: dict[str, Any], name: str, timeout: float = 30.0) -> int:
    metadata = AdminClient(client_config).list_topics(name, timeout=timeout)
    return len(metadata.topics[name].partitions)
