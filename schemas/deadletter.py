"""The dead-letter record: what could not be decoded, why, and the original bytes."""

from __future__ import annotations

import base64
import enum
from datetime import datetime

from pydantic import AwareDatetime, Field

from schemas.events import Strict


class DeadLetterReason(str, enum.Enum):
    invalid_utf8 = "invalid_utf8"
    invalid_json = "invalid_json"
    schema_violation = "schema_violation"
    wrong_topic = "wrong_topic"
    too_large = "too_large"
    processing_error = "processing_error"
    implausible_time = "implausible_time"            # occurred_at further in the future than clock skew explains
    conflicting_duplicate = "conflicting_duplicate"  # an event_id seen before with other content
    storage_error = "storage_error"                  # the database refused the event's rows (its message is the detail)
    undecodable_record = "undecodable_record"        # the consumer could not read its record batch (codec, CRC, framing)


class DeadLetter(Strict):
    event_type: str = "deadletter"
    schema_version: int = 1
    reason: DeadLetterReason
    detail: str = Field(max_length=4000)
    source_topic: str
    source_partition: int
    source_offset: int
    key_b64: str | None = None
    value_b64: str
    received_at: AwareDatetime

    @classmethod
    def build(
        cls,
        *,
        reason: DeadLetterReason,
        detail: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes,
        now: datetime,
    ) -> "DeadLetter":
        return cls(
            reason=reason,
            detail=detail[:4000],
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            key_b64=base64.b64encode(key).decode() if key is not None else None,
            value_b64=base64.b64encode(value).decode(),
            received_at=now,
        )

    def original(self) -> bytes:
        return base64.b64decode(self.value_b64)
