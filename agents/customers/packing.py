"""OrderRecords <-> one bytes blob per customer (about 60 bytes an order instead of ~400 as objects)."""

from __future__ import annotations

import struct
from typing import Iterator

from agents.customers.orders import OrderRecord

# oid, pay_ts, cancel_ts, def_rank, def_ts, def_ev, gross, refunded, channel, n_refunds, n_cats
_HEAD = struct.Struct("<8sqqBq8sqqBHB")
_CAT = struct.Struct("<Bq")            # category index into the profile's table, line total in units
HEAD_SIZE = _HEAD.size


def pack(oid: bytes, rec: OrderRecord) -> bytes:
    channel, cats = rec.attrs
    head = _HEAD.pack(oid, rec.pay_ts, rec.cancel_ts, rec.def_rank, rec.def_ts, rec.def_ev, rec.gross,
                      rec.refunded, channel, len(rec.refund_evs) // 8, len(cats))
    return head + rec.refund_evs + b"".join(_CAT.pack(i, u) for i, u in cats)


def _decode(blob: bytes, off: int) -> tuple[bytes, OrderRecord, int]:
    oid, pay, cancel, rank, dts, dev, gross, refunded, channel, nr, nc = _HEAD.unpack_from(blob, off)
    p = off + HEAD_SIZE
    evs = blob[p:p + 8 * nr]
    p += 8 * nr
    cats = tuple(_CAT.unpack_from(blob, p + 9 * k) for k in range(nc))
    p += 9 * nc
    return oid, OrderRecord(pay, cancel, rank, dts, dev, gross, refunded, evs, (channel, cats)), p


def records(blob: bytes) -> Iterator[tuple[bytes, OrderRecord]]:
    off, end = 0, len(blob)
    while off < end:
        oid, rec, off = _decode(blob, off)
        yield oid, rec


def find(blob: bytes, oid: bytes) -> tuple[int, int, OrderRecord | None]:
    """(start, end, record) of order oid in blob, or (len, len, None) when absent."""
    off, end = 0, len(blob)
    while off < end:
        if blob[off:off + 8] == oid:
            _, rec, nxt = _decode(blob, off)
            return off, nxt, rec
        nr, nc = struct.unpack_from("<HB", blob, off + HEAD_SIZE - 3)
        off += HEAD_SIZE + 8 * nr + 9 * nc
    return end, end, None
