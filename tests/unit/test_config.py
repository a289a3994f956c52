"""Settings: defaults, environment over YAML, and one clear error per bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from argus.config import ConfigError, load_settings


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
