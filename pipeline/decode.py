"""Raw message bytes -> a validated input event, or the reason it goes to the dead-letter topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas.deadletter import DeadLetterReason
from schemas.events import INPUT_ADAPTER, EventBase


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: DeadLetterReason
    detail: str


def describe(exc: ValidationError, limit: int = 5) -> str:
    """'field.path: message; ...' naming the invalid fields, bounded in length."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def decode(value: bytes | None, *, expected_types: frozenset[str], max_bytes: int,
           not_after: datetime | None = None) -> EventBase | Rejected:
    """Decode one message body; never raises. `not_after`: the latest plausible occurred_at (the
    receiver's clock plus the skew a producer's clock may have)."""
    if value is None or not value:
        return Rejected(DeadLetterReason.invalid_json, "empty message")
    if len(value) > max_bytes:
        return Rejected(DeadLetterReason.too_large, f"message of {len(value)} bytes exceeds {max_bytes}")
    try:
        event = INPUT_ADAPTER.validate_json(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as uexc:
                return Rejected(DeadLetterReason.invalid_utf8, str(uexc)[:300])
            return Rejected(DeadLetterReason.invalid_json, first["msg"][:300])
        return Rejected(DeadLetterReason.schema_violation, describe(exc))
    except (RecursionError, ValueError) as exc:  # pathological nesting
        return Rejected(DeadLetterReason.invalid_json, f"{type(exc).__name__}: {str(exc)[:200]}")
    if event.event_type not in expected_types:
        return Rejected(
            DeadLetterReason.wrong_topic,
            f"event_type {event.event_type!r} does not belong on this topic (expects {sorted(expected_types)})",
        )
    if not_after is not None and event.occurred_at > not_after:
        return Rejected(
            DeadLetterReason.implausible_time,
            f"occurred_at {event.occurred_at.isoformat()} is after {not_after.isoformat()} "
            "(the receiver's clock plus the tolerated skew)",
        )
    return event
