"""datetime / Decimal / ids -> the compact ints and 8-byte hashes kept in state, and back."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NEVER = 2**63 - 1            # "no such time" for min-folded timestamps
US_PER_DAY = 86_400_000_000
_US = timedelta(microseconds=1)
_MASK64 = (1 << 64) - 1
UNITS = 10_000               # money is kept as int multiples of 0.0001 (Money has 4 decimal places)
_CENT = Decimal("0.01")


def to_us(dt: datetime) -> int:
    """Aware datetime -> microseconds since the epoch (exact, no float)."""
    return (dt - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def to_units(amount: Decimal) -> int:
    return int(amount * UNITS)


def money(units: int) -> Decimal:
    """Units -> Decimal with 2 places, or 4 when the amount needs them."""
    d = Decimal(units).scaleb(-4)
    q = d.quantize(_CENT)
    return q if q == d else d.quantize(Decimal("0.0001"))


def ratio_money(units: int, n: int) -> Decimal:
    """units / n as money rounded half-even to the cent (average order value)."""
    return (Decimal(units).scaleb(-4) / n).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def event_hash(event_id: uuid.UUID) -> bytes:
    """A uuid folded to 8 bytes: enough to recognise redeliveries within one customer."""
    v = event_id.int
    return (((v >> 64) ^ v) & _MASK64).to_bytes(8, "big")


def key_hash(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=8).digest()


def blob_has(blob: bytes, h: bytes) -> bool:
    """Is the 8-byte hash h one of the aligned entries of blob?"""
    i = blob.find(h)
    while i != -1:
        if i % 8 == 0:
            return True
        i = blob.find(h, i + 1)
    return False
