"""The bytes a signature covers ("signing bytes"), in the two formats Argus accepts.

Why two: v1 is what the reference Go client (LSFLK/argus pkg/audit, CanonicalizeRequest) signs,
so existing Go services verify unchanged. It is a `|`-joined string, which is ambiguous when a
field contains `|`, and it leaves id, publicKeyId and signatureAlgorithm unsigned. v2 is RFC 8785
(JCS) of a tagged object: unambiguous, covers those fields, and easy to produce in any language.
The full specification, with worked examples, is docs/signatures.md.
"""

from __future__ import annotations

import re
from typing import Any, Final

from argus_spec.gojson import go_json_dumps
from argus_spec.jcs import CanonicalizationError, canonicalize

V2_FORMAT_TAG: Final = "argus.sig.v2"
_SURROGATES: Final = re.compile("[\ud800-\udfff]")

#: v1 fields in signing order; message and metadataJSON follow.
V1_TEXT_FIELDS: Final = (
    "traceId",
    "timestamp",
    "eventType",
    "action",
    "status",
    "actorType",
    "actorId",
    "targetType",
    "targetId",
)

#: v2 members besides "format", all always present (null when absent or empty).
V2_FIELDS: Final = ("id", *V1_TEXT_FIELDS, "message", "metadata", "publicKeyId", "signatureAlgorithm")

Event = dict[str, Any]


class CanonicalFormError(ValueError):
    """The event cannot be put in canonical form; `reason` is `field: message`, like validation errors."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = f"{field}: {message}"


def ambiguity_reason(field: str) -> str:
    """Why `sign_event` refuses to create a v1 signature over a field containing `|`."""
    return f"{field}: contains '|' which v1 signatures cannot sign unambiguously; use signatureFormat v2"


def signature_is_ambiguous(event: Event) -> bool:
    """True for a v1-signed event whose v1 string is ambiguous: what storage marks and counts."""
    return bool(event.get("signature")) and (event.get("signatureFormat") or "v1") == "v1" and (
        v1_ambiguity(event) is not None
    )


def v1_ambiguity(event: Event) -> str | None:
    """Name of the first field whose `|` makes the v1 string ambiguous, else None.

    With `|` inside a field, two different events can share one v1 string (see docs/signatures.md),
    so a v1 signature does not pin down what was signed. Such events are accepted (the reference
    Go client cannot learn of a refusal) and stored marked as ambiguous. traceId is a validated UUID and cannot
    hold `|`; it is checked anyway because this function may see unvalidated input.
    """
    for field in V1_TEXT_FIELDS:
        value = event.get(field)
        if isinstance(value, str) and "|" in value:
            return field
    return None


def _text(event: Event, field: str) -> str:
    value = event.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CanonicalFormError(field, "must be a string")
    return value


def signing_bytes_v1(event: Event) -> bytes:
    """`traceId|timestamp|eventType|action|status|actorType|actorId|targetType|targetId|message|metadataJSON`.

    Absent strings are empty; message is the base64 text as sent (the reference client signs
    base64.StdEncoding of the bytes, which is also what it sends); metadataJSON is Go's json.Marshal
    of the metadata, `{}` when absent or empty. Integers are printed exactly (as a Go client holding
    int64/uint64 signed them), not rounded through float64 (see docs/signatures.md, "Numbers").
    """
    metadata = event.get("metadata")
    if metadata is None or metadata == {}:
        metadata_json = "{}"
    elif isinstance(metadata, dict):
        try:
            metadata_json = go_json_dumps(metadata, ints="exact")
        except (TypeError, ValueError) as exc:
            raise CanonicalFormError("metadata", f"cannot be serialized like Go's json.Marshal: {exc}") from None
    else:
        raise CanonicalFormError("metadata", "must be a JSON object")
    parts = [_text(event, field) for field in V1_TEXT_FIELDS]
    parts.append(_text(event, "message"))
    parts.append(metadata_json)
    text = "|".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: Go holds (and so signs) them as U+FFFD
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def v2_document(event: Event) -> dict[str, Any]:
    """The object whose JCS form is signed in v2. Empty strings and `{}` count as absent (null),
    so a signature does not depend on whether a client sends "" or leaves the field out."""
    doc: dict[str, Any] = {"format": V2_FORMAT_TAG}
    for field in V2_FIELDS:
        value = event.get(field)
        if field == "metadata":
            if value is not None and not isinstance(value, dict):
                raise CanonicalFormError("metadata", "must be a JSON object")
            doc[field] = value or None
        else:
            value = _text(event, field)
            doc[field] = value or None
    return doc


def signing_bytes_v2(event: Event) -> bytes:
    """RFC 8785 canonical JSON of `v2_document(event)`."""
    doc = v2_document(event)
    try:
        return canonicalize(doc)
    except CanonicalizationError as exc:
        culprit = "metadata"
        for field, value in doc.items():  # error path only: find the field to blame
            try:
                canonicalize(value)
            except CanonicalizationError:
                culprit = field
                break
        raise CanonicalFormError(culprit, f"is not representable in RFC 8785 JSON: {exc}") from None


def signing_bytes(event: Event) -> bytes:
    """Signing bytes for the event's signatureFormat (v1 when unset, as reference clients send none)."""
    fmt = event.get("signatureFormat") or "v1"
    if fmt == "v1":
        return signing_bytes_v1(event)
    if fmt == "v2":
        return signing_bytes_v2(event)
    raise CanonicalFormError("signatureFormat", f"unknown format {fmt!r}; expected 'v1' or 'v2'")
