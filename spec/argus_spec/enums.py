"""Allowed enum values for audit events, loaded from the same YAML shape as the reference service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_EVENT_TYPES = ("MANAGEMENT_EVENT", "USER_MANAGEMENT", "DATA_FETCH")
DEFAULT_ACTIONS = ("CREATE", "READ", "UPDATE", "DELETE")
DEFAULT_ACTOR_TYPES = ("SERVICE", "ADMIN", "MEMBER", "SYSTEM")
DEFAULT_TARGET_TYPES = ("SERVICE", "RESOURCE")
STATUSES = frozenset({"SUCCESS", "FAILURE"})


class EnumConfigError(ValueError):
    """The enums file is missing, unreadable or has the wrong shape."""


@dataclass(frozen=True)
class EnumConfig:
    """The four configurable vocabularies; `status` is fixed (SUCCESS|FAILURE) by the API."""

    event_types: frozenset[str] = frozenset(DEFAULT_EVENT_TYPES)
    actions: frozenset[str] = frozenset(DEFAULT_ACTIONS)
    actor_types: frozenset[str] = frozenset(DEFAULT_ACTOR_TYPES)
    target_types: frozenset[str] = frozenset(DEFAULT_TARGET_TYPES)


_YAML_KEYS = {
    "eventTypes": "event_types",
    "eventActions": "actions",
    "actorTypes": "actor_types",
    "targetTypes": "target_types",
}


def load_enums(path: str | Path) -> EnumConfig:
    """Read `enums:` from a YAML file; a key left out keeps its default, a malformed file is an error."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EnumConfigError(f"AUDIT_ENUMS_CONFIG: cannot read {path}: {exc}") from exc
    section = doc.get("enums") if isinstance(doc, dict) else None
    if not isinstance(section, dict):
        raise EnumConfigError(f"AUDIT_ENUMS_CONFIG: {path} has no 'enums' mapping")
    values: dict[str, frozenset[str]] = {}
    for yaml_key, attr in _YAML_KEYS.items():
        if yaml_key not in section:
            continue
        items = section[yaml_key]
        if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
            raise EnumConfigError(f"AUDIT_ENUMS_CONFIG: {path}: enums.{yaml_key} must be a non-empty list of strings")
        values[attr] = frozenset(items)
    return EnumConfig(**values)
