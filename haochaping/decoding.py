"""Bytes from the wire → a validated event, or a Rejection saying which field and why.

The worker, the publisher and the batch commands all decode through here, so a
message is judged the same way everywhere. Errors are values, not exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError

from haochaping.events import CaseEvent, Event, RatingEvent
from haochaping.privacy import mask_personal_data

# Far above any honest event (a 2,000-character comment is ~6 kB); protects the worker.
MAX_MESSAGE_BYTES = 64 * 1024

EventKind = Literal["rating", "case"]

_any_event: TypeAdapter[Event] = TypeAdapter(Annotated[RatingEvent | CaseEvent, Field(discriminator="schema_")])
_KIND_OF_SCHEMA = {"hcp.rating/1": "rating", "hcp.case/1": "case"}
# Free-text fields whose value is never quoted in a reason: reasons go to logs, headers and tables.
_NOT_QUOTED = frozenset({"comment", "note", "rater.id", "rater"})
_MAX_QUOTE = 60


def _clip(text: str, limit: int = _MAX_QUOTE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused; the original bytes travel beside it to the dead-letter topic."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def decode_event(raw: bytes | None, expected: EventKind | None = None) -> Event | Rejection:
    """Decode one JSON message; `expected` pins the kind a topic may carry.

    `raw` is None for a Kafka tombstone (a record with a null value), which no portal should send.
    """
    if raw is None:
        return Rejection("null value (a Kafka tombstone): no event to decode")
    if not raw:
        return Rejection("empty value (0 bytes): no event to decode")
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejection(f"message is {len(raw)} bytes, larger than the {MAX_MESSAGE_BYTES}-byte limit")
    try:
        event = _any_event.validate_json(raw)
    except ValidationError as error:
        return Rejection(_utf8_problem(raw) or describe_validation_error(error))
    kind = "rating" if isinstance(event, RatingEvent) else "case"
    if expected is not None and kind != expected:
        return Rejection(f"schema: a {kind} event ({event.schema_}) on a topic for {expected} events")
    return event


def _utf8_problem(raw: bytes) -> str | None:
    """Checked only after a failure, so valid messages are not decoded twice."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"not valid UTF-8 at byte {error.start}"
    return None


def describe_validation_error(error: ValidationError, limit: int = 3) -> str:
    """One line naming each bad field and the value it had."""
    parts = []
    for detail in error.errors()[:limit]:
        location = [str(part) for part in detail["loc"]]
        if location and location[0] in _KIND_OF_SCHEMA:
            location = location[1:]  # drop the discriminator tag pydantic prepends
        field = _clip(mask_personal_data(".".join(location) or "message"))
        message = mask_personal_data(detail["msg"])
        if detail["type"] == "json_invalid":
            parts.append(f"not valid JSON: {detail.get('ctx', {}).get('error', message)}")
            continue
        if detail["type"] == "union_tag_not_found":
            parts.append(f"schema: missing (expected one of {', '.join(_KIND_OF_SCHEMA)})")
            continue
        if detail["type"] in ("missing", "union_tag_invalid") or field in _NOT_QUOTED:
            parts.append(f"{field}: {message}")
            continue
        value = _clip(mask_personal_data(repr(detail.get("input"))))
        parts.append(f"{field}: {message} (got {value})")
    more = len(error.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
