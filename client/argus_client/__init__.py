"""Argus client SDK: the shared event model, validation rules and canonical forms, plus the sender."""

from argus_client.enums import EnumConfig, load_enums
from argus_client.event import EVENT_FIELDS, Event, EventValidationError, validate_event

__all__ = ["EVENT_FIELDS", "EnumConfig", "Event", "EventValidationError", "load_enums", "validate_event"]
