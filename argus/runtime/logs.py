"""Log lines people can search: plain text by default, or one JSON object per line (ARGUS_LOG_FORMAT=json).

Context (request id, trace id, token name, actorId, partition/offset) rides on a contextvar that a
filter copies onto every record, so call sites don't repeat it. Every formatter redacts secrets
(bearer tokens, the database and SASL passwords, any password inside a URL) from the whole line,
whoever logged it: a driver error that echoes a connection string included.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: context fields, in the order they are written
CONTEXT_FIELDS = ("request_id", "trace_id", "token", "actorId", "partition", "offset")
FORMATS = ("text", "json")
#: a secret this short would also match ordinary words; it is still redacted inside URLs
MIN_SECRET_LENGTH = 8
REDACTED = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)

_context: ContextVar[dict[str, Any] | None] = ContextVar("argus_log_context", default=None)
_secrets: set[str] = set()


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (None values are left out) to every log line written inside the block."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields for the rest of the current task (e.g. the token name once authenticated)."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def register_secrets(*secrets: str | None) -> None:
    """Values no log line may contain (tokens, passwords)."""
    _secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class ContextFilter(logging.Filter):
    """Copies the current log context onto the record (explicit `extra=` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    """`time level logger: message [key=value ...]`, redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if getattr(record, k, None) is not None)
        return redact(f"{line} [{extra}]" if extra else line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def dict_config(level: str, fmt: str) -> dict[str, Any]:
    """logging.config.dictConfig settings: one stderr handler with the chosen format (faust takes it too)."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"argus": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "argus",
                "filters": ["context"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def configure(level: str, fmt: str) -> None:
    logging.config.dictConfig(dict_config(level, fmt))
