"""What the servers admit for storage: the event rules (argus_spec.event) plus the database's own.

The gateway and the processor both accept exactly what `validate_storable_event` accepts, so an
event the gateway took never turns into a dead letter in the processor. One rule is newer in the
gateway than in the processor (`strict_offset`: offset minutes 00-59, argus-spec 0.2.0), so that
events older gateways acknowledged are still stored after an upgrade. The rule storage adds is
that the metadata has a canonical text (the text the hash chain covers and the table stores).
"""

from __future__ import annotations

from typing import Any

from argus_spec.enums import EnumConfig
from argus_spec.event import EventValidationError, validate_event
from argus_spec.hashchain import canonical_metadata


def validate_storable_event(
    raw: Any, enums: EnumConfig, *, assign_id: bool = True, strict_offset: bool = True
) -> tuple[dict[str, Any], str | None]:
    """`validate_event` plus the one rule storage adds: the metadata must have a canonical text.

    Returns the event and that text, so whoever stores the event need not compute it again.
    The gateway and the processor both accept exactly what this accepts (the processor with
    `strict_offset=False`, see the module's docstring).
    """
    event = validate_event(raw, enums, assign_id=assign_id, strict_offset=strict_offset)
    try:
        return event, canonical_metadata(event["metadata"])
    except ValueError as exc:
        raise EventValidationError("metadata", str(exc)) from None
