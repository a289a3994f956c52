"""Topic management with confluent-kafka's AdminClient."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

log = logging.getLogger(__name__)
RDKAFKA_LOG = logging.getLogger("librdkafka")

MAX_MESSAGE_BYTES = "max.message.bytes"


def ensure_topic(
    client_config: dict[str, Any],
    name: str,
    partitions: int,
    timeout: float = 30.0,
    *,
    max_message_bytes: int | None = None,
) -> None:
    """Create `name` with `partitions` partitions unless it exists (its partitions are left as is).

    With `max_message_bytes`, the topic's `max.message.bytes` is at least that: set on creation,
    raised on an existing topic whose limit is lower (never lowered), so every record the gateway
    accepts fits whatever the broker's own default is.
    """
    admin = AdminClient(_logged(client_config))
    metadata = admin.list_topics(timeout=timeout)
    if name not in metadata.topics or metadata.topics[name].error is not None:
        config = {MAX_MESSAGE_BYTES: str(max_message_bytes)} if max_message_bytes else {}
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=-1, config=config)])
        try:
            futures[name].result(timeout)
            log.info("created topic %s with %d partitions", name, partitions)
            return
        except KafkaException as exc:
            if not exc.args or exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    if max_message_bytes:
        _raise_max_message_bytes(admin, name, max_message_bytes, timeout)


def _logged(client_config: dict[str, Any]) -> dict[str, Any]:
    """librdkafka's log lines through Python logging (formatted, redacted), not raw stderr."""
    return {**client_config, "logger": RDKAFKA_LOG}


def topic_max_message_bytes(admin: AdminClient, name: str, timeout: float = 30.0) -> int:
    """The topic's effective `max.message.bytes` (its own or the broker default)."""
    resource = ConfigResource(ResourceType.TOPIC, name)
    entries = admin.describe_configs([resource])[resource].result(timeout)
    return int(entries[MAX_MESSAGE_BYTES].value)


def _raise_max_message_bytes(admin: AdminClient, name: str, wanted: int, timeout: float) -> None:
    current = topic_max_message_bytes(admin, name, timeout)
    if current >= wanted:
        return
    resource = ConfigResource(
        ResourceType.TOPIC,
        name,
        incremental_configs=[ConfigEntry(MAX_MESSAGE_BYTES, str(wanted), incremental_operation=AlterConfigOpType.SET)],
    )
    admin.incremental_alter_configs([resource])[resource].result(timeout)
    log.info("raised %s of topic %s from %d to %d", MAX_MESSAGE_BYTES, name, current, wanted)


def partition_count(client_config: dict[str, Any], name: str, timeout: float = 30.0) -> int:
    metadata = AdminClient(_logged(client_config)).list_topics(name, timeout=timeout)
    return len(metadata.topics[name].partitions)
