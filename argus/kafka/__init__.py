"""Kafka plumbing shared by the gateway, the processor and the sinks: topics and the asyncio producer."""
