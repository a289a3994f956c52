"""Log lines: JSON fields and context, text default, W3C traceparent parsing, and secrets redacted."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from argus.runtime import logs
from argus.runtime.settings import ConfigError, load_settings
from argus.runtime.trace_context import parse_traceparent, trace_id_of

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def _capture(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    config = logs.dict_config("DEBUG", fmt)
    config["handlers"]["default"]["stream"] = stream
    config["root"]["handlers"] = []
    config["loggers"] = {"argus.test": {"handlers": ["default"], "level": "DEBUG", "propagate": False}}
    logging.config.dictConfig(config)
    return logging.getLogger("argus.test"), stream


def test_json_lines_carry_the_context() -> None:
    logger, stream = _capture("json")
    with logs.log_context(request_id="r-1", trace_id=TRACE, partition=3, offset=17, actorId=None):
        logs.bind(token="billing")
        logger.info("stored %d events", 2)
    logger.warning("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "stored 2 events"
    assert first["level"] == "INFO" and first["logger"] == "argus.test"
    assert first["time"].endswith("+00:00")
    assert {k: first[k] for k in ("request_id", "trace_id", "token", "partition", "offset")} == {
        "request_id": "r-1",
        "trace_id": TRACE,
        "token": "billing",
        "partition": 3,
        "offset": 17,
    }
    assert "actorId" not in first  # None values are left out
    assert set(second) == {"time", "level", "logger", "message"}  # the context ended with the block


def test_text_is_the_default_and_appends_the_context() -> None:
    assert load_settings({}).log_format == "text"
    logger, stream = _capture("text")
    with logs.log_context(request_id="r-2"):
        logger.info("hello")
    line = stream.getvalue().strip()
    assert line.endswith("INFO argus.test: hello [request_id=r-2]")
    with pytest.raises(ConfigError, match="ARGUS_LOG_FORMAT"):
        load_settings({"ARGUS_LOG_FORMAT": "xml"})


@pytest.mark.parametrize("fmt", logs.FORMATS)
def test_secrets_never_reach_a_line(fmt: str) -> None:
    settings = load_settings(
        {
            "ARGUS_AUTH_TOKEN": "default-token-0123456789",
            "ARGUS_AUTH_TOKENS": "billing:ingest=billing-secret-abcdef,auditor:read=auditor-secret-uvwxyz",
            "ARGUS_DATABASE_URL": "postgresql+psycopg2://argus:db-pass-S3cr3t!@db:5432/argus",
            "ARGUS_KAFKA_SASL_PASSWORD": "sasl-password-987654",
        }
    )
    secrets = settings.secrets()
    assert len(secrets) == 5
    logs.register_secrets(*secrets)
    logger, stream = _capture(fmt)
    logger.error("tokens %s", ",".join(secrets[:3]))
    logger.error("cannot connect to %s", settings.database_url)
    logger.error("short password in a URL: postgresql://u:pw@host/db")
    try:
        raise RuntimeError(f"sasl failed with {secrets[-1]}")
    except RuntimeError:
        logger.exception("kafka")
    text = stream.getvalue()
    for secret in [*secrets, "pw@"]:
        assert secret not in text
    assert text.count(logs.REDACTED) >= 6


def test_traceparent_parsing() -> None:
    assert parse_traceparent(TRACEPARENT) == TRACE
    assert parse_traceparent(f" {TRACEPARENT} ") == TRACE
    for bad in (
        None,
        "",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        f"ff-{TRACE}-00f067aa0ba902b7-01",
        f"00-{TRACE.upper()}-00f067aa0ba902b7-01",
        f"00-{TRACE}-0000000000000000-01",
        "garbage",
    ):
        assert parse_traceparent(bad) is None, bad
    assert trace_id_of([("other", b"x"), ("traceparent", TRACEPARENT.encode())]) == TRACE
    assert trace_id_of({"traceparent": TRACEPARENT}) == TRACE
    assert trace_id_of(None) is None
