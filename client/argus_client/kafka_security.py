"""Kafka client security (TLS, SASL) in librdkafka's key spelling: the one place those keys are named.

The SDK's `KafkaAuditTransport` and the servers' `Settings.kafka_client_config` both build their
settings here, so a security option means the same everywhere; the processor's consumer (faust and
aiokafka, which spell them differently) renders its credentials from this dict
(`processor.faust_seam.broker_credentials`). Needs no Kafka library: it only names keys.
"""

from __future__ import annotations


def kafka_security_config(
    *,
    security_protocol: str | None = None,
    sasl_mechanism: str | None = None,
    sasl_username: str | None = None,
    sasl_password: str | None = None,
    ssl_ca_location: str | None = None,
) -> dict[str, str]:
    """librdkafka's security settings for the options given; unset (None or empty) ones are left
    out, so librdkafka's defaults apply (PLAINTEXT, the system's CA store)."""
    chosen = {
        "security.protocol": security_protocol,
        "sasl.mechanism": sasl_mechanism,
        "sasl.username": sasl_username,
        "sasl.password": sasl_password,
        "ssl.ca.location": ssl_ca_location,
    }
    return {key: value for key, value in chosen.items() if value}
