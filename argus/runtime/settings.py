"""Settings from the environment, with an optional YAML file underneath.

Precedence: environment > YAML file named by ARGUS_CONFIG > defaults. Every setting has one
environment name; the YAML file uses the same names in lower case without the ARGUS_ prefix
(e.g. `port: 3001`). An invalid value raises ConfigError whose message names the setting,
so start-up fails with one line that says what to fix.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from argus_spec.enums import EnumConfig, EnumConfigError, load_enums

REPO_ROOT = Path(__file__).resolve().parents[2]
SCOPES = frozenset({"ingest", "read"})
#: Bytes a Kafka record may exceed the event limit by (docs/operations.md, "Size limits").
KAFKA_RECORD_HEADROOM = 64 * 1024


class ConfigError(ValueError):
    """A setting is invalid; the message starts with the setting's name."""


@dataclass(frozen=True)
class Token:
    """A named bearer token. Only its SHA-256 digest is kept in memory."""

    name: str
    digest: bytes
    scopes: frozenset[str]


def _bool(name: str, raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _int_in(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(name: str, raw: Any) -> int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
        return value

    return parse


def _positive_float(name: str, raw: Any) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name}: must be greater than 0, got {value}")
    return value


def _non_negative_float(name: str, raw: Any) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name}: must not be negative, got {value}")
    return value


def _text(name: str, raw: Any) -> str:
    value = str(raw).strip()
    if not value:
        raise ConfigError(f"{name}: must not be empty")
    return value


def _optional_text(name: str, raw: Any) -> str | None:
    value = str(raw).strip()
    return value or None


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def parse(name: str, raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in allowed:
            raise ConfigError(f"{name}: must be one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def _setting(env: str, default: Any, parse: Callable[[str, Any], Any] = _text, *, secret: bool = False) -> Any:
    """A setting read from `env`; a `secret` one (a token, a password, a URL that may hold one) is
    never shown by `repr(Settings)`."""
    return field(default=default, metadata={"env": env, "parse": parse, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Everything Argus reads at start-up. Build it with `load_settings()`."""

    host: str = _setting("ARGUS_HOST", "127.0.0.1")
    port: int = _setting("ARGUS_PORT", 3001, _int_in(1, 65535))
    kafka_bootstrap: str = _setting("ARGUS_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    database_url: str = _setting("ARGUS_DATABASE_URL", f"sqlite:///{REPO_ROOT / '.local' / 'argus.db'}", secret=True)
    read_database_url: str | None = _setting("ARGUS_READ_DATABASE_URL", None, _optional_text, secret=True)
    auth_token: str | None = _setting("ARGUS_AUTH_TOKEN", None, _optional_text, secret=True)
    auth_tokens: str | None = _setting("ARGUS_AUTH_TOKENS", None, _optional_text, secret=True)
    enums_config: str = _setting("AUDIT_ENUMS_CONFIG", str(REPO_ROOT / "configs" / "enums.yaml"))
    keys_config: str | None = _setting("ARGUS_KEYS_CONFIG", str(REPO_ROOT / "configs" / "keys.yaml"), _optional_text)
    sinks_config: str = _setting("ARGUS_SINKS_CONFIG", str(REPO_ROOT / "configs" / "sinks.yaml"))
    topic: str = _setting("ARGUS_TOPIC", "argus.events")
    topic_partitions: int = _setting("ARGUS_TOPIC_PARTITIONS", 4, _int_in(1, 10_000))
    dlq_topic: str = _setting("ARGUS_DLQ_TOPIC", "argus.events.dlq")
    committed_topic: str = _setting("ARGUS_COMMITTED_TOPIC", "argus.audit.committed")
    consumer_group: str = _setting("ARGUS_CONSUMER_GROUP", "argus-processor")
    bulk_max_events: int = _setting("ARGUS_BULK_MAX_EVENTS", 1000, _int_in(1, 100_000))
    max_event_bytes: int = _setting("ARGUS_MAX_EVENT_BYTES", 1280 * 1024, _int_in(4096, 64 << 20))
    max_body_bytes: int = _setting("ARGUS_MAX_BODY_BYTES", 26 * 1024 * 1024, _int_in(1024, 1 << 30))
    content_ids: bool = _setting("ARGUS_CONTENT_IDS", True, _bool)
    recent_ids: int = _setting("ARGUS_RECENT_IDS", 100_000, _int_in(0, 100_000_000))
    produce_timeout: float = _setting("ARGUS_PRODUCE_TIMEOUT", 10.0, _positive_float)
    batch_size: int = _setting("ARGUS_PROCESSOR_BATCH_SIZE", 2000, _int_in(1, 100_000))
    batch_within: float = _setting("ARGUS_PROCESSOR_BATCH_WITHIN", 0.25, _positive_float)
    processor_session_timeout: float = _setting("ARGUS_PROCESSOR_SESSION_TIMEOUT", 10.0, _positive_float)
    chain_cache_size: int = _setting("ARGUS_CHAIN_CACHE_SIZE", 200_000, _int_in(1, 100_000_000))
    require_signatures: bool = _setting("REQUIRE_SIGNATURES", False, _bool)
    gateway_verify_signatures: bool = _setting("ARGUS_GATEWAY_VERIFY_SIGNATURES", True, _bool)
    log_format: str = _setting("ARGUS_LOG_FORMAT", "text", _choice("text", "json"))
    processor_metrics_port: int = _setting("ARGUS_PROCESSOR_METRICS_PORT", 9108, _int_in(0, 65535))
    transparency: bool = _setting("ARGUS_TRANSPARENCY", True, _bool)
    log_name: str = _setting("ARGUS_LOG_NAME", "argus.local")
    log_key: str | None = _setting("ARGUS_LOG_KEY", None, _optional_text)
    checkpoint_interval: float = _setting("ARGUS_CHECKPOINT_INTERVAL", 0.0, _non_negative_float)
    checkpoints_topic: str = _setting("ARGUS_CHECKPOINTS_TOPIC", "argus.checkpoints")
    witness_keys: str | None = _setting("ARGUS_WITNESS_KEYS", None, _optional_text)
    receipt_key: str | None = _setting("ARGUS_RECEIPT_KEY", None, _optional_text)
    receipt_verifier_keys: str | None = _setting("ARGUS_RECEIPT_VERIFIER_KEYS", None, _optional_text)
    unattested_claims: str = _setting("ARGUS_UNATTESTED_CLAIMS", "strip", _choice("strip", "dead-letter"))
    kafka_security_protocol: str | None = _setting("ARGUS_KAFKA_SECURITY_PROTOCOL", None, _optional_text)
    kafka_sasl_mechanism: str | None = _setting("ARGUS_KAFKA_SASL_MECHANISM", None, _optional_text)
    kafka_sasl_username: str | None = _setting("ARGUS_KAFKA_SASL_USERNAME", None, _optional_text)
    kafka_sasl_password: str | None = _setting("ARGUS_KAFKA_SASL_PASSWORD", None, _optional_text, secret=True)
    kafka_ssl_ca_location: str | None = _setting("ARGUS_KAFKA_SSL_CA_LOCATION", None, _optional_text)

    def __repr__(self) -> str:
        """Every setting, secrets masked: settings end up in logs and tracebacks. A database URL
        is shown with its password masked (where it points is worth seeing)."""
        shown = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.metadata["secret"] and value is not None:
                value = _masked_url(value) if spec.name.endswith("_url") else "***"
            shown.append(f"{spec.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def kafka_max_message_bytes(self) -> int:
        """The largest Kafka record Argus writes or must read: one event's envelope (at most
        ARGUS_MAX_EVENT_BYTES, checked by the gateway) plus room for what the committed-topic
        record adds (hashes, seq, source) and the record-batch framing. The producers' and the
        topics' limits are both set to this, so the gateway's check is the only one that refuses."""
        return self.max_event_bytes + KAFKA_RECORD_HEADROOM

    @property
    def enums(self) -> EnumConfig:
        return _load_enums_cached(self.enums_config)

    def tokens(self) -> tuple[Token, ...]:
        """Named tokens: ARGUS_AUTH_TOKEN (name `default`) plus ARGUS_AUTH_TOKENS.

        ARGUS_AUTH_TOKENS is a comma-separated list of `name=token` or `name:scope+scope=token`
        (scopes: ingest, read; default both), one per calling service.
        """
        result: list[Token] = []
        if self.auth_token:
            result.append(_token("default", self.auth_token, SCOPES))
        for item in (self.auth_tokens or "").split(","):
            item = item.strip()
            if not item:
                continue
            label, sep, secret = item.partition("=")
            if not sep or not label or not secret:
                raise ConfigError("ARGUS_AUTH_TOKENS: each entry must be name=token or name:scope+scope=token")
            name, _, scope_text = label.partition(":")
            scopes = frozenset(scope_text.split("+")) if scope_text else SCOPES
            if not scopes <= SCOPES:
                raise ConfigError(f"ARGUS_AUTH_TOKENS: unknown scope in {label!r}; scopes are {sorted(SCOPES)}")
            result.append(_token(name, secret, scopes))
        return tuple(result)

    def secrets(self) -> list[str]:
        """Every secret value in the settings, for log redaction (argus/runtime/logs.py)."""
        from sqlalchemy.engine import make_url

        values = [self.auth_token, self.kafka_sasl_password]
        for item in (self.auth_tokens or "").split(","):
            values.append(item.partition("=")[2].strip())
        for url in (self.database_url, self.read_database_url):
            if url:
                with contextlib.suppress(Exception):  # an unparsable URL fails start-up elsewhere
                    values.append(make_url(url).password)
        return [v for v in values if v]

    def kafka_client_config(self) -> dict[str, str]:
        """librdkafka settings shared by every Kafka client; security in the SDK's spelling
        (argus_client/kafka_security.py), so the servers and KafkaAuditTransport agree."""
        # here, not at the top: the SDK's package (aiohttp) must not load where settings are merely
        # read, e.g. argus/trust/signatures.py in the standalone verifier (tests/unit/test_standalone_verifier.py)
        from argus_client.kafka_security import kafka_security_config

        security = kafka_security_config(
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            ssl_ca_location=self.kafka_ssl_ca_location,
        )
        return {"bootstrap.servers": self.kafka_bootstrap, **security}


def _masked_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL fails start-up elsewhere; it may still hold a password
        return "***"


def _token(name: str, secret: str, scopes: frozenset[str]) -> Token:
    return Token(name=name, digest=hashlib.sha256(secret.encode()).digest(), scopes=scopes)


_ENUM_CACHE: dict[str, EnumConfig] = {}


def _load_enums_cached(path: str) -> EnumConfig:
    if path not in _ENUM_CACHE:
        _ENUM_CACHE[path] = load_enums(path)
    return _ENUM_CACHE[path]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from YAML (ARGUS_CONFIG) and the environment, validating every value."""
    env = os.environ if env is None else env
    yaml_values: dict[str, Any] = {}
    config_path = env.get("ARGUS_CONFIG")
    if config_path:
        try:
            loaded = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"ARGUS_CONFIG: cannot read {config_path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"ARGUS_CONFIG: {config_path} must be a mapping of settings")
        yaml_values = {str(k).lower(): v for k, v in loaded.items()}
    values: dict[str, Any] = {}
    known_yaml: set[str] = set()
    for spec in fields(Settings):
        env_name: str = spec.metadata["env"]
        yaml_name = env_name.lower().removeprefix("argus_")
        known_yaml.add(yaml_name)
        if env_name in env:
            values[spec.name] = spec.metadata["parse"](env_name, env[env_name])
        elif yaml_name in yaml_values:
            values[spec.name] = spec.metadata["parse"](env_name, yaml_values[yaml_name])
    unknown = set(yaml_values) - known_yaml
    if unknown:
        raise ConfigError(f"ARGUS_CONFIG: unknown setting {sorted(unknown)[0]!r}")
    settings = Settings(**values)
    if settings.max_body_bytes < settings.max_event_bytes:
        raise ConfigError(
            f"ARGUS_MAX_BODY_BYTES: must be at least ARGUS_MAX_EVENT_BYTES ({settings.max_event_bytes}), "
            f"else a valid event could never be sent; got {settings.max_body_bytes}"
        )
    try:
        settings.enums  # noqa: B018 - load now so a bad enums file stops start-up
    except EnumConfigError as exc:
        raise ConfigError(str(exc)) from exc
    settings.tokens()
    return settings
