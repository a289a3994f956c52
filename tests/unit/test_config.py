"""Settings: defaults, environment over YAML, and one clear error per bad setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argus.runtime.settings import ConfigError, load_settings


def test_defaults_match_the_reference_service() -> None:
    settings = load_settings({})
    assert (settings.host, settings.port) == ("127.0.0.1", 3001)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.tokens() == ()
    assert "CREATE" in settings.enums.actions


def test_environment_overrides_yaml(tmp_path: Path) -> None:
    config = tmp_path / "argus.yaml"
    config.write_text("port: 4000\ntopic: from.yaml\n")
    settings = load_settings({"ARGUS_CONFIG": str(config), "ARGUS_PORT": "5000"})
    assert settings.port == 5000
    assert settings.topic == "from.yaml"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ARGUS_PORT": "nope"}, "ARGUS_PORT"),
        ({"ARGUS_PORT": "70000"}, "ARGUS_PORT"),
        ({"REQUIRE_SIGNATURES": "maybe"}, "REQUIRE_SIGNATURES"),
        ({"AUDIT_ENUMS_CONFIG": "/nonexistent.yaml"}, "AUDIT_ENUMS_CONFIG"),
        ({"ARGUS_AUTH_TOKENS": "svc-a"}, "ARGUS_AUTH_TOKENS"),
        ({"ARGUS_AUTH_TOKENS": "svc-a:admin=x"}, "ARGUS_AUTH_TOKENS"),
        ({"ARGUS_PROCESSOR_BATCH_WITHIN": "0"}, "ARGUS_PROCESSOR_BATCH_WITHIN"),
    ],
)
def test_invalid_setting_names_itself(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value).startswith(names)


def test_unknown_yaml_setting_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "argus.yaml"
    config.write_text("prot: 4000\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings({"ARGUS_CONFIG": str(config)})


def test_named_tokens_with_scopes() -> None:
    settings = load_settings({"ARGUS_AUTH_TOKEN": "t0", "ARGUS_AUTH_TOKENS": "billing=t1,auditor:read=t2"})
    tokens = {t.name: t.scopes for t in settings.tokens()}
    assert tokens == {"default": {"ingest", "read"}, "billing": {"ingest", "read"}, "auditor": {"read"}}


def test_kafka_security_passes_through() -> None:
    settings = load_settings({"ARGUS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "ARGUS_KAFKA_SASL_MECHANISM": "PLAIN"})
    config = settings.kafka_client_config()
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "PLAIN"


def test_size_limits_agree() -> None:
    settings = load_settings({})
    assert settings.max_body_bytes >= 20 * settings.max_event_bytes  # the Go client's default batch fits
    assert settings.kafka_max_message_bytes > settings.max_event_bytes
    with pytest.raises(ConfigError, match="ARGUS_MAX_BODY_BYTES"):
        load_settings({"ARGUS_MAX_EVENT_BYTES": "2000000", "ARGUS_MAX_BODY_BYTES": "1000000"})


def test_repr_shows_no_token_or_password() -> None:
    secrets = {"tok-default-1a2b", "tok-billing-3c4d", "sasl-pw-5e6f", "db-pw-7a8b", "read-pw-9c0d"}
    settings = load_settings({
        "ARGUS_AUTH_TOKEN": "tok-default-1a2b",
        "ARGUS_AUTH_TOKENS": "billing=tok-billing-3c4d",
        "ARGUS_KAFKA_SASL_USERNAME": "argus",
        "ARGUS_KAFKA_SASL_PASSWORD": "sasl-pw-5e6f",
        "ARGUS_DATABASE_URL": "postgresql://argus:db-pw-7a8b@127.0.0.1:55432/argus",
        "ARGUS_READ_DATABASE_URL": "postgresql://reader:read-pw-9c0d@127.0.0.1:55432/argus",
    })  # fmt: skip
    shown = repr(settings)
    assert not [secret for secret in secrets if secret in shown]
    assert str(settings) == shown
    # what is not secret still shows, so the repr stays useful
    assert "kafka_sasl_username='argus'" in shown
    assert "postgresql://argus:***@127.0.0.1:55432/argus" in shown
    assert set(settings.secrets()) == secrets


def test_the_processor_consumer_takes_the_same_kafka_security() -> None:
    """faust's credentials are built from `kafka_client_config`, the one place security is configured."""
    from processor.faust_seam import broker_credentials

    plain = load_settings({"ARGUS_KAFKA_SASL_MECHANISM": "PLAIN", "ARGUS_KAFKA_SASL_USERNAME": "argus"})
    assert broker_credentials(plain.kafka_client_config()) is None  # librdkafka's default protocol too
    sasl = load_settings({
        "ARGUS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "ARGUS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "ARGUS_KAFKA_SASL_USERNAME": "argus",
        "ARGUS_KAFKA_SASL_PASSWORD": "sasl-pw-5e6f",
    })  # fmt: skip
    credentials = broker_credentials(sasl.kafka_client_config())
    assert (credentials.username, credentials.password) == ("argus", "sasl-pw-5e6f")
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    tls = broker_credentials(load_settings({"ARGUS_KAFKA_SECURITY_PROTOCOL": "SSL"}).kafka_client_config())
    assert tls.protocol.value == "SSL" and tls.context is not None


def test_servers_and_sdk_build_kafka_security_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Settings.kafka_client_config` and `KafkaAuditTransport` share one builder, so the same
    options give the same librdkafka keys; unset options are left out of both."""
    import confluent_kafka

    from argus_client.kafka_security import kafka_security_config
    from argus_client.kafka_transport import KafkaAuditTransport

    options = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_username": "argus",
        "sasl_password": "sasl-pw-5e6f",
        "ssl_ca_location": "/etc/ca.pem",
    }
    settings = load_settings({f"ARGUS_KAFKA_{name.upper()}": value for name, value in options.items()})
    config = settings.kafka_client_config()
    assert config == {"bootstrap.servers": settings.kafka_bootstrap, **kafka_security_config(**options)}
    assert config["sasl.password"] == "sasl-pw-5e6f" and config["ssl.ca.location"] == "/etc/ca.pem"
    built: list[dict[str, Any]] = []
    monkeypatch.setattr(confluent_kafka, "Producer", built.append)
    KafkaAuditTransport(settings.kafka_bootstrap, **options)
    assert {key: built[0][key] for key in config} == config
    assert kafka_security_config(security_protocol="SSL", sasl_username="") == {"security.protocol": "SSL"}
    assert load_settings({}).kafka_client_config() == {"bootstrap.servers": load_settings({}).kafka_bootstrap}
