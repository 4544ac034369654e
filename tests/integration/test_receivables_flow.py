"""Receivables and delivered digests on a real broker and database: an invoiced order past due becomes one
payment_overdue follow-up and one email to the region's finance person (not again after a restart), the
ageing is in GET /kpis cut to the reader's region; a daily digest reaches each subscriber with only their
region's figures."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
import yaml

from pipeline.emitter import Emitter
from pipeline.tokens import hash_token
from schemas.events import Channel, FeedbackEvent, OrderEvent, OrderStatus
from tests.support.receivers import SmtpReceiver
from tests.support.services import ROOT, query, wait_until

pytestmark = pytest.mark.integration


def directory(tmp, run_id: str, digests: bool = False) -> tuple[str, dict]:
    """config/directory.yaml plus finance people for north and south, tokens for the director and the north
    manager, and (digests=True) the two sales managers subscribed to the daily digest."""
    d = yaml.safe_load((ROOT / "config" / "directory.yaml").read_text())
    for person in d["people"]:
        person.pop("digests", None)  # only the subscribers this test names
    for region in ("north", "south"):
        d["people"].append({"id": f"finance-{region}", "name": f"Finance {region}", "role": "finance",
                            "region": region, "email": f"finance-{region}@salespulse.example"})
    tokens = {}
    for pid in ("director", "manager-north"):
        tokens[pid] = f"tok-{pid}-{run_id}"
        person = next(p for p in d["people"] if p["id"] == pid)
        person["token_sha256"] = hash_token(tokens[pid])
        if digests and pid == "manager-north":
            person["digests"] = ["daily"]
    if digests:
        next(p for p in d["people"] if p["id"] == "manager-south")["digests"] = ["daily", "hourly"]
    path = tmp / ("directory-digests.yaml" if digests else "directory.yaml")
    path.write_text(yaml.safe_dump(d))
    return str(path), tokens


def fast_config(tmp) -> str:
    cfg = yaml.safe_load((ROOT / "config" / "receivables.yaml").read_text())
    cfg["overdue"]["sweep_interval_s"] = 1
    cfg["digests"]["check_interval_s"] = 1
    path = tmp / "receivables.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def order(cid: str, oid: str, status: OrderStatus, at: datetime, region: str, rep: str, **kw) -> OrderEvent:
    return OrderEvent(occurred_at=at, channel=Channel.partner, customer_id=cid, order_id=oid, status=status,
                      amount=Decimal("1200.00"), currency="USD", region=region, sales_rep_id=rep, **kw)


def test_an_overdue_invoice_raises_one_follow_up_and_one_finance_email(broker, make_worker, db_url, run_id, tmp_path):
    now = datetime.now(timezone.utc)
    dir_path, tokens = directory(tmp_path, run_id)
    with SmtpReceiver() as smtp:
        env = dict(SALESPULSE_PATHS__DIRECTORY=dir_path, SALESPULSE_PATHS__RECEIVABLES=fast_config(tmp_path),
                   SALESPULSE_NOTIFY__SMTP_HOST="127.0.0.1", SALESPULSE_NOTIFY__SMTP_PORT=smtp.port)
        w = make_worker("w1", **env)
        w.wait_ready()
        late, soon, settled = f"rc-{run_id}-late", f"rc-{run_id}-soon", f"rc-{run_id}-paid"
        events = [
            # 40 days past due: the follow-up and the notice; due in a week: current; paid: nothing
            order(late, f"o-{late}", OrderStatus.invoiced, now - timedelta(days=70), "north", "rep-1",
                  payment_due_at=now - timedelta(days=40)),
            order(late, f"o-{late}", OrderStatus.shipped, now - timedelta(days=69), "north", "rep-1"),
            order(soon, f"o-{soon}", OrderStatus.invoiced, now - timedelta(days=3), "south", "rep-3",
                  payment_due_at=now + timedelta(days=7)),
            order(settled, f"o-{settled}", OrderStatus.invoiced, now - timedelta(days=50), "north", "rep-2",
                  payment_due_at=now - timedelta(days=20)),
            order(settled, f"o-{settled}", OrderStatus.paid, now - timedelta(days=25), "north", "rep-2"),
        ]
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            for e in events:
                em.emit(e)
            em.flush()

        def finance_mail() -> list[dict]:
            return [m for m in smtp.messages if m["kind"] == "payment_overdue"]

        wait_until(lambda: finance_mail(), timeout=60, message="the finance notice")
        rows = wait_until(lambda: query(db_url, "SELECT customer_id, reason, owner_rep_id FROM followups "
                                                "WHERE reason = 'payment_overdue'"), timeout=30,
                          message="the payment_overdue follow-up")
        time.sleep(3.0)  # three more sweeps: nothing is raised again
        assert query(db_url, "SELECT customer_id, reason, owner_rep_id FROM followups "
                             "WHERE reason = 'payment_overdue'") == rows == [(late, "payment_overdue", "rep-1")]
        (mail,) = finance_mail()
        assert mail["to"] == ["finance-north@salespulse.example"] and f"o-{late}" in mail["subject"]
        assert "rep-1" in mail["body"] and "40 days overdue" in mail["body"]
        # the offline replay (same core) raises the same, for the same people
        path = tmp_path / "orders.jsonl"
        path.write_text("".join(e.model_dump_json() + "\n" for e in events))
        replay = subprocess.run([sys.executable, "-m", "agents.cli.main", "receivables", "replay", str(path),
                                 "--now", datetime.now(timezone.utc).isoformat(), "--directory", dir_path],
                                capture_output=True, text=True, timeout=120)
        assert replay.returncode == 0, replay.stderr
        (line,) = [json.loads(x) for x in replay.stdout.splitlines()]
        assert (line["customer_id"], line["owner"], line["order_id"], line["finance"]) == \
            (late, "rep-1", f"o-{late}", ["finance-north"])
        states = dict(query(db_url, "SELECT order_id, state FROM receivables"))
        assert states == {f"o-{late}": "open", f"o-{soon}": "open", f"o-{settled}": "paid"}
        # invoiced is billed, not paid: the profile of the unpaid customer counts no order
        assert query(db_url, "SELECT orders_count FROM customer_profiles WHERE customer_id = :c", c=soon) == [(0,)]

        # ageing in GET /kpis: everything for the director, the north manager only north
        def kpis(who: str) -> dict:
            return httpx.get(w.base_url + "/kpis", headers={"Authorization": f"Bearer {tokens[who]}"},
                             timeout=10).json()["receivables"]
        every = kpis("director")
        assert every["currency"] == "USD"  # the orders are in the reporting currency
        assert every["total"]["current"] == {"count": 1, "amount": "1200.00"}
        assert every["total"]["31-60"] == {"count": 1, "amount": "1200.00"}
        assert set(every["by_region"]) == {"north", "south"} and every["by_team"]["team-north"]["31-60"]["count"] == 1
        north = kpis("manager-north")
        assert set(north["by_region"]) == {"north"} and north["total"]["current"]["count"] == 0
        # `salespulse kpis show` prints the same section
        show = subprocess.run([sys.executable, "-m", "agents.cli.main", "kpis", "show", "--database", db_url,
                               "--window", "total"], capture_output=True, text=True, timeout=120)
        assert show.returncode == 0, show.stderr
        shown = json.loads(show.stdout)["receivables"]
        assert {k: v for k, v in shown.items() if k != "as_of"} == {k: v for k, v in every.items() if k != "as_of"}

        # a restart sweeps again over the same book from SQL: still one follow-up, one notice
        w.stop()
        w2 = make_worker("w2", **env)
        w2.wait_ready()
        wait_until(lambda: "receivables: 3 for partitions" in w2.log_tail(200_000), timeout=60,
                   message="the book loaded again")
        time.sleep(3.0)  # three sweeps over it
        assert len(finance_mail()) == 1
        assert query(db_url, "SELECT count(*) FROM followups WHERE reason = 'payment_overdue'") == [(1,)]


def test_a_daily_digest_reaches_each_subscriber_with_only_their_regions_figures(broker, make_worker, db_url,
                                                                                run_id, tmp_path):
    now = datetime.now(timezone.utc)
    yesterday = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    north, south = f"dg-{run_id}-n", f"dg-{run_id}-s"
    with SmtpReceiver() as smtp:
        plain, _ = directory(tmp_path, run_id)
        env = dict(SALESPULSE_PATHS__RECEIVABLES=fast_config(tmp_path),
                   SALESPULSE_NOTIFY__SMTP_HOST="127.0.0.1", SALESPULSE_NOTIFY__SMTP_PORT=smtp.port)
        # first a worker with no subscribers takes the day's feedback in
        w1 = make_worker("w1", SALESPULSE_PATHS__DIRECTORY=plain, **env)
        w1.wait_ready()
        with Emitter(broker.bootstrap, topic_prefix=f"t{run_id}.") as em:
            em.emit(order(north, f"o-{north}", OrderStatus.paid, yesterday - timedelta(days=5), "north", "rep-1"))
            em.emit(order(south, f"o-{south}", OrderStatus.paid, yesterday - timedelta(days=5), "south", "rep-3"))
            em.flush()
            wait_until(lambda: query(db_url, "SELECT count(*) FROM customer_profiles WHERE customer_id IN (:a, :b)",
                                     a=north, b=south) == [(2,)], timeout=60, message="the two profiles")
            em.emit(FeedbackEvent(occurred_at=yesterday + timedelta(hours=10), channel=Channel.email, customer_id=north,
                                  text="My parcel arrived two weeks late. Terrible delivery, the courier never came."))
            em.emit(FeedbackEvent(occurred_at=yesterday + timedelta(hours=11), channel=Channel.email, customer_id=south,
                                  text="Far too expensive. The price is a rip-off, much higher than before."))
            em.flush()
        got = wait_until(lambda: (lambda r: r if len(r) == 2 else None)(query(
            db_url, "SELECT customer_id, category, sentiment FROM classified_feedback WHERE customer_id IN (:a, :b)",
            a=north, b=south)), timeout=60, message="both classified")
        cats = {c: (cat, s) for c, cat, s in got}
        assert cats[north] == ("delivery", "negative") and cats[south] == ("pricing", "negative"), cats
        w1.stop()

        subscribed, _ = directory(tmp_path, run_id, digests=True)
        w2 = make_worker("w2", SALESPULSE_PATHS__DIRECTORY=subscribed, **env)
        w2.wait_ready()

        def digests(to: str, period: str = "Daily") -> list[dict]:
            # a long subject arrives folded (RFC 5322): read it unfolded
            return [{**m, "subject": " ".join(m["subject"].split())} for m in smtp.messages
                    if m["kind"] == "digest" and m["to"] == [to] and " ".join(m["subject"].split()).startswith(period)]
        wait_until(lambda: digests("manager-north@salespulse.example") and digests("manager-south@salespulse.example"),
                   timeout=60, message="both daily digests")
        (n,), (s,) = digests("manager-north@salespulse.example"), digests("manager-south@salespulse.example")
        assert "region north" in n["subject"] and "delivery: 1" in n["body"] and "pricing" not in n["body"]
        assert "region south" in s["subject"] and "pricing: 1" in s["body"] and "delivery" not in s["body"]
        assert "1 feedback, 1 negative" in n["subject"] and "1 feedback, 1 negative" in s["subject"]
        wait_until(lambda: digests("manager-south@salespulse.example", "Hourly"), timeout=30,
                   message="the south manager's hourly digest")
        assert not digests("manager-north@salespulse.example", "Hourly")  # not subscribed
        # a restart remembers what was delivered (digest_deliveries): nothing is sent again
        delivered_digests = len([m for m in smtp.messages if m["kind"] == "digest"])
        w2.stop()
        w3 = make_worker("w3", SALESPULSE_PATHS__DIRECTORY=subscribed, **env)
        w3.wait_ready()
        time.sleep(4.0)
        # (a new hour may have begun meanwhile: its digest is new; none is a repeat of an earlier one)
        ids = [m["notification_id"] for m in smtp.messages if m["kind"] == "digest"]
        assert len(ids) == len(set(ids)) and len(ids) >= delivered_digests >= 3


async def test_a_notice_goes_by_webhook_and_email_and_a_retry_keeps_its_id():
    import uuid

    from pipeline.notify.notice import Notice, NoticeSender
    from pipeline.notify.retry import Backoff
    from pipeline.notify.smtp import EmailNotifier
    from schemas.escalation import Target
    from tests.support.receivers import WebhookReceiver

    with WebhookReceiver(fail_first=1) as hooks, SmtpReceiver() as smtp:
        sender = NoticeSender(smtp=EmailNotifier(host="127.0.0.1", port=smtp.port, sender="sp@example.com"),
                              sender="sp@example.com", backoff=Backoff(base=0.05, jitter=0))
        notice = Notice(uuid.uuid4(), "digest", "Daily digest, region north", "Complaints by category:\n  delivery: 1",
                        {"complaints": {"delivery": 1}})
        to = Target(id="manager-north", name="M", email="m@example.com", webhook=f"{hooks.url}/digest")
        try:
            assert await sender.send(notice, to) == ["email", "webhook"]
        finally:
            await sender.aclose()
        ((_, headers, body),) = hooks.deliveries()
        assert body["kind"] == "digest" and body["data"] == {"complaints": {"delivery": 1}}
        assert headers["X-SalesPulse-Notification-Id"] == str(notice.notice_id) and headers["X-SalesPulse-Attempt"] == "2"
        (mail,) = smtp.messages
        assert mail["notification_id"] == str(notice.notice_id) and "delivery: 1" in mail["body"]
