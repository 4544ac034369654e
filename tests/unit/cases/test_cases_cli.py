"""`salespulse cases replay` as a user runs it: cases opened and SLAs missed by --now on the office calendar."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from agents.cli.main import main
from schemas.events import Channel, FeedbackEvent, OrderEvent, OrderStatus

MON = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)  # a Monday
EVENTS = [
    OrderEvent(occurred_at=MON, channel=Channel.web, customer_id="cust-1", order_id="o1", status=OrderStatus.paid,
               amount="120.00", currency="EUR", sales_rep_id="rep-3", region="south"),
    FeedbackEvent(occurred_at=MON.replace(hour=10), channel=Channel.email, customer_id="cust-1",
                  text="My parcel is two weeks late and nobody answers my emails."),
    FeedbackEvent(occurred_at=MON.replace(hour=11), channel=Channel.email, customer_id="cust-1",
                  text="The delivery was late again and the box arrived damaged."),
    FeedbackEvent(occurred_at=MON.replace(hour=17), channel=Channel.email, customer_id="cust-2",
                  text="Your prices went up again, too expensive."),
    FeedbackEvent(occurred_at=MON.replace(hour=11), channel=Channel.email, customer_id="cust-3",
                  text="I love it, great service, thank you!"),
]


def _run(tmp_path, capsys, now: str, extra: str = ""):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(e.model_dump_json() + "\n" for e in EVENTS) + extra)
    code = main(["cases", "replay", str(path), "--now", now])
    out = capsys.readouterr()
    return code, [json.loads(x) for x in out.out.splitlines()], out.err


def test_replay_prints_cases_opened_and_slas_missed_by_now(tmp_path, capsys):
    code, lines, _ = _run(tmp_path, capsys, "2026-11-03T09:30:00+00:00")
    assert code == 0
    assert [(x["event"], x["customer_id"], x["category"], x["owner"], x["due_at"], x["sla"]) for x in lines] == [
        # delivery: 4 working hours from 10:00; the second complaint merges into it
        ("opened", "cust-1", "delivery", "rep-3", "2026-11-02T14:00:00+00:00", "first_response"),
        # in time order: missed at 14:00, before the next complaint at 17:00
        ("breached", "cust-1", "delivery", "rep-3", "2026-11-02T14:00:00+00:00", "first_response"),
        # pricing has no owner rep: the finance queue; 8 working hours from 17:00 Monday = Tuesday 16:00
        ("opened", "cust-2", "pricing", "queue:finance", "2026-11-03T16:00:00+00:00", "first_response"),
    ]
    assert {x["state"] for x in lines} == {"open"}
    # later: cust-2's first response and cust-1's resolution (24 working hours: 8 Monday, 9 Tuesday,
    # 7 Wednesday) are missed too
    code, later, _ = _run(tmp_path, capsys, "2026-11-06T12:00:00+00:00")
    assert [(x["event"], x["customer_id"], x["sla"], x["due_at"]) for x in later if x["event"] == "breached"] == [
        ("breached", "cust-1", "first_response", "2026-11-02T14:00:00+00:00"),
        ("breached", "cust-2", "first_response", "2026-11-03T16:00:00+00:00"),
        ("breached", "cust-1", "resolution", "2026-11-04T16:00:00+00:00"),
    ]


def test_bad_lines_and_times_are_one_line(tmp_path, capsys):
    code, lines, err = _run(tmp_path, capsys, "2026-11-02T12:00:00+00:00", extra="{not json\n")
    # by 12:00 Monday: cust-1's case only (nothing after --now counts)
    assert code == 1 and "events.jsonl:6:" in err and [x["event"] for x in lines] == ["opened"]
    assert main(["cases", "replay", str(tmp_path / "events.jsonl"), "--now", "2026-11-02 12:00"]) == 2
    assert "needs a timezone" in capsys.readouterr().err
