"""Batched follow-up notices over real wires: one webhook POST / one email listing every new task of the person."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline.notify.batch import Notice, NoticeSender, period_start
from pipeline.notify.smtp import EmailNotifier
from tests.support.receivers import SmtpReceiver, WebhookReceiver

pytestmark = pytest.mark.integration


def notice() -> Notice:
    items = ({"id": "f-1", "customer_id": "c-1", "reason": "silent_valuable"},
             {"id": "f-2", "customer_id": "c-2", "reason": "churn_risk"})
    return Notice(notice_id="n-1", person_id="rep-1", subject="2 new follow-ups for Rep 1",
                  lines=("- c-1: silent_valuable", "- c-2: churn_risk"), items=items)


async def test_one_webhook_post_lists_every_task():
    with WebhookReceiver(fail_first=1) as hook:   # a 500 first: retried, still one notice recorded
        sender = NoticeSender(None, "salespulse@localhost", timeout_s=5)
        try:
            assert await sender.send(notice(), ("webhook",), None, hook.url + "/rep-1") == ["webhook"]
        finally:
            await sender.aclose()
        [(headers, body)] = [(h, b) for _, h, b in hook.deliveries()]
    assert [i["id"] for i in body["items"]] == ["f-1", "f-2"] and body["person_id"] == "rep-1"
    assert headers["X-SalesPulse-Notification-Id"] == "n-1" and headers["X-SalesPulse-Attempt"] == "2"
    assert "c-2: churn_risk" in body["text"]


async def test_one_email_and_channels_without_address_skipped():
    with SmtpReceiver() as smtp:
        sender = NoticeSender(EmailNotifier(host="127.0.0.1", port=smtp.port, sender="sp@localhost"), "sp@localhost")
        assert await sender.send(notice(), ("email", "webhook"), "rep-1@example.com", None) == ["email"]
    assert [(m["to"], m["subject"], m["notification_id"]) for m in smtp.messages] == \
        [(["rep-1@example.com"], "2 new follow-ups for Rep 1", "n-1")]


def test_period_start():
    t = datetime(2026, 12, 7, 10, 7, 31, tzinfo=timezone.utc)
    assert period_start(t, 15) == datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    assert period_start(t, 0.1) == datetime(2026, 12, 7, 10, 7, 30, tzinfo=timezone.utc)
