"""Notifiers over real wires: an aiosmtpd SMTP server and aiohttp webhook receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import email
import logging
import socket
import time
from datetime import datetime, timezone

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from pipeline.notify import (
    Backoff, DeliveryResult, Dispatcher, EmailNotifier, LogNotifier, TopicNotifier, WebhookNotifier,
)
from schemas.escalation import EscalationAlert, Playbook, PlaybookStep, Target, notification_id
from schemas.events import Severity

pytestmark = pytest.mark.integration
FAST = Backoff(base=0.05, factor=2, cap=0.2, jitter=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_alert(key: str = "inc-1", *, level: int = 1, loop: int = 0, webhook: str | None = None,
               emails: tuple[str, ...] = ()) -> EscalationAlert:
    targets = tuple(Target(id=f"p{i}", name=f"Person {i}", email=e) for i, e in enumerate(emails))
    if webhook:
        targets += (Target(id="hook", name="Hook", webhook=webhook),)
    nid = notification_id(key, level, loop)
    now = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)
    return EscalationAlert(
        event_id=nid, notification_id=nid, occurred_at=now, at=now, incident_key=key, level=level,
        level_name="account_rep", loop=loop, targets=targets, reason="new high delivery incident", ack_by=now,
        severity=Severity.high, title="Parcel lost", category="delivery", customer_id="cust-1",
        playbook=Playbook(name="delivery", steps=(PlaybookStep(action="call the customer", owner="account_rep"),)))


class Receiver:
    """Webhook receiver: /ok, /flaky (500 then 200), /bad (400), /hang (never answers in time)."""

    def __init__(self) -> None:
        self.hits: dict[str, list[dict]] = {}
        self.headers: list[dict] = []
        self.release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{name}", self.handle)
        self.runner = web.AppRunner(app)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits.setdefault(name, []).append(await request.json())
        self.headers.append(dict(request.headers))
        if name == "bad":
            return web.Response(status=400, text="no such channel")
        if name == "flaky" and len(self.hits[name]) == 1:
            return web.Response(status=500)
        if name == "hang":
            await asyncio.wait_for(self.release.wait(), 30)
        return web.Response(status=200, text="ok")

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


@pytest.fixture
async def receiver():
    r = Receiver()
    r.base = await r.start()
    yield r
    r.release.set()
    await r.runner.cleanup()


class Mailbox:
    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.messages: list = []
        self.refuse = refuse or {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 Message accepted"


@pytest.fixture
def smtp():
    box = Mailbox(refuse={"gone@example.com": "550 no such user", "full@example.com": "452 mailbox full"})
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


class Recorder:
    def __init__(self) -> None:
        self.results: list[DeliveryResult] = []
        self.failures: list[tuple[str, str]] = []

    async def on_result(self, r: DeliveryResult) -> None:   # async, like an SQL audit write
        self.results.append(r)

    def on_failure(self, channel: str, reason: str) -> None:
        self.failures.append((channel, reason))

    def outcomes(self, channel: str | None = None) -> list[tuple[int, str]]:
        return [(r.attempt, r.outcome) for r in self.results if channel is None or r.channel == channel]


def dispatcher(notifiers, rec: Recorder, **kw) -> Dispatcher:
    kw.setdefault("backoff", FAST)
    return Dispatcher(notifiers, on_result=rec.on_result, on_failure=rec.on_failure, **kw)


async def test_webhook_posts_the_alert_as_json(receiver):
    rec = Recorder()
    async with dispatcher([WebhookNotifier()], rec) as d:
        alert = make_alert(webhook=f"{receiver.base}/ok")
        assert d.submit(alert)
        await d.join()
    (body,) = receiver.hits["ok"]
    assert body["notification_id"] == str(alert.notification_id) and body["event_type"] == "escalation"
    assert body["playbook"]["steps"][0]["action"] == "call the customer"
    assert receiver.headers[0]["X-SalesPulse-Notification-Id"] == str(alert.notification_id)
    assert rec.outcomes() == [(1, "delivered")] and rec.results[0].recipient == "hook"


async def test_slack_form_to_a_fixed_channel_url(receiver):
    rec = Recorder()
    async with dispatcher([WebhookNotifier(url=f"{receiver.base}/ok", slack=True)], rec) as d:
        d.submit(make_alert())
        await d.join()
    (body,) = receiver.hits["ok"]
    assert set(body) == {"text"} and body["text"].startswith("*[HIGH] Parcel lost - level 1 account_rep*")
    assert "1. call the customer (account_rep)" in body["text"]


async def test_500_is_retried_until_200(receiver):
    rec = Recorder()
    async with dispatcher([WebhookNotifier()], rec) as d:
        d.submit(make_alert(webhook=f"{receiver.base}/flaky"))
        await d.join()
    assert len(receiver.hits["flaky"]) == 2
    assert rec.outcomes() == [(1, "retrying"), (2, "delivered")]
    # the retry is the same notification, told apart by its attempt, from the same sender
    assert [h["X-SalesPulse-Attempt"] for h in receiver.headers] == ["1", "2"]
    assert len({h["X-SalesPulse-Notification-Id"] for h in receiver.headers}) == 1
    assert receiver.headers[0]["User-Agent"] == receiver.headers[1]["User-Agent"]
    assert receiver.headers[0]["User-Agent"].startswith("SalesPulse/") and f"pid {os.getpid()}" in receiver.headers[0]["User-Agent"]
    assert "HTTP 500" in rec.results[0].error and rec.failures == []


async def test_400_is_not_retried(receiver):
    rec = Recorder()
    async with dispatcher([WebhookNotifier()], rec) as d:
        d.submit(make_alert(webhook=f"{receiver.base}/bad"))
        await d.join()
    assert len(receiver.hits["bad"]) == 1
    assert rec.outcomes() == [(1, "failed")] and "HTTP 400" in rec.results[0].error
    assert rec.failures == [("webhook", "permanent")]


async def test_connection_refused_is_retried_then_given_up():
    rec = Recorder()
    async with dispatcher([WebhookNotifier()], rec, max_attempts=3) as d:
        d.submit(make_alert(webhook=f"http://127.0.0.1:{free_port()}/x"))
        await d.join()
    assert rec.outcomes() == [(1, "retrying"), (2, "retrying"), (3, "failed")]
    assert rec.failures == [("webhook", "transient")]


async def test_a_hanging_receiver_times_out_and_does_not_block_the_stream(receiver):
    rec = Recorder()
    async with dispatcher([WebhookNotifier(timeout=0.3)], rec, max_attempts=2, workers=2) as d:
        t0 = time.monotonic()
        d.submit(make_alert("slow", webhook=f"{receiver.base}/hang"))
        for i in range(20):
            assert d.submit(make_alert(f"fast-{i}", webhook=f"{receiver.base}/ok"))
        assert time.monotonic() - t0 < 0.05          # submit only enqueues
        while len(receiver.hits.get("ok", [])) < 20:
            await asyncio.sleep(0.01)
        fast_done = time.monotonic() - t0
        await d.join()
    assert fast_done < 0.3                            # delivered while the slow one was still hanging
    slow = [(r.attempt, r.outcome) for r in rec.results if r.incident_key == "slow"]
    assert slow == [(1, "retrying"), (2, "failed")]
    assert "no answer within 0.3s" in rec.results[[r.incident_key for r in rec.results].index("slow")].error
    assert len(receiver.hits["hang"]) == 2


async def test_duplicates_are_dropped_by_notification_id(receiver):
    rec = Recorder()
    async with dispatcher([WebhookNotifier()], rec) as d:
        alert = make_alert(webhook=f"{receiver.base}/ok")
        assert d.submit(alert) is True
        assert d.submit(alert) is False
        assert d.submit(make_alert(loop=1, webhook=f"{receiver.base}/ok")) is True   # another loop: another page
        await d.join()
    assert len(receiver.hits["ok"]) == 2
    assert ("*", 0, "duplicate") in [(r.channel, r.attempt, r.outcome) for r in rec.results]


async def test_restart_safe_dedup_through_the_already_sent_hook(receiver):
    rec = Recorder()
    sent_before = {(notification_id("inc-1", 1, 0), "webhook", "hook")}
    async with dispatcher([WebhookNotifier()], rec,
                          already_sent=lambda a, ch, rid: (a.notification_id, ch, rid) in sent_before) as d:
        d.submit(make_alert(webhook=f"{receiver.base}/ok"))
        await d.join()
    assert "ok" not in receiver.hits and rec.outcomes() == [(0, "duplicate")]


async def test_muted_when_acknowledged_even_between_retries(receiver):
    rec = Recorder()
    acked: set[str] = {"inc-acked"}

    async def is_muted(alert):
        return alert.incident_key in acked

    async with dispatcher([WebhookNotifier()], rec, is_muted=is_muted,
                          backoff=Backoff(base=0.3, jitter=0)) as d:
        d.submit(make_alert("inc-acked", webhook=f"{receiver.base}/ok"))
        d.submit(make_alert("inc-2", webhook=f"{receiver.base}/flaky"))
        while not receiver.hits.get("flaky"):
            await asyncio.sleep(0.01)
        acked.add("inc-2")                             # acknowledged while the retry waits
        await d.join()
    assert "ok" not in receiver.hits and len(receiver.hits["flaky"]) == 1
    assert sorted((r.incident_key, r.attempt, r.outcome) for r in rec.results) == [
        ("inc-2", 0, "muted"), ("inc-2", 1, "retrying"), ("inc-acked", 0, "muted")]


async def test_full_queue_drops_and_counts_without_blocking(receiver):
    rec = Recorder()
    async with dispatcher([WebhookNotifier()], rec, queue_size=2, workers=1) as d:
        results = [d.submit(make_alert(f"k{i}", webhook=f"{receiver.base}/ok")) for i in range(4)]
        await d.join()
    assert results == [True, True, False, False]
    assert rec.failures == [("*", "dropped"), ("*", "dropped")]


async def test_email_over_smtp(smtp):
    rec = Recorder()
    mailer = EmailNotifier(host="127.0.0.1", port=smtp.port, sender="salespulse@example.com")
    async with dispatcher([mailer], rec) as d:
        alert = make_alert(emails=("rep@example.com", "lead@example.com"))
        d.submit(alert)
        await d.join()
    assert sorted(rcpt[0] for rcpt, _ in smtp.messages) == ["lead@example.com", "rep@example.com"]
    msg = smtp.messages[0][1]
    assert msg["Subject"] == "[HIGH] Parcel lost - level 1 account_rep"
    assert msg["X-SalesPulse-Notification-Id"] == str(alert.notification_id)
    assert "Playbook delivery" in msg.get_payload() and "1. call the customer" in msg.get_payload()
    assert rec.outcomes("email") == [(1, "delivered"), (1, "delivered")]


async def test_smtp_550_is_permanent_452_is_retried(smtp):
    rec = Recorder()
    mailer = EmailNotifier(host="127.0.0.1", port=smtp.port, sender="salespulse@example.com")
    async with dispatcher([mailer], rec, max_attempts=2) as d:
        d.submit(make_alert(emails=("gone@example.com", "full@example.com")))
        await d.join()
    by = {r.recipient: [] for r in rec.results}
    for r in rec.results:
        by[r.recipient].append((r.attempt, r.outcome))
    assert by == {"p0": [(1, "failed")], "p1": [(1, "retrying"), (2, "failed")]}
    assert sorted(rec.failures) == [("email", "permanent"), ("email", "transient")]
    assert smtp.messages == []


async def test_smtp_server_down_is_transient():
    rec = Recorder()
    mailer = EmailNotifier(host="127.0.0.1", port=free_port(), sender="s@example.com", timeout=2)
    async with dispatcher([mailer], rec, max_attempts=2) as d:
        d.submit(make_alert(emails=("rep@example.com",)))
        await d.join()
    assert rec.outcomes() == [(1, "retrying"), (2, "failed")]
    assert "ConnectionRefusedError" in rec.results[0].error


async def test_topic_and_log_sinks_and_every_channel_together(receiver, smtp, caplog):
    rec = Recorder()
    produced: list[EscalationAlert] = []
    calls = {"n": 0}

    async def produce(alert):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("broker not ready")
        produced.append(alert)

    notifiers = [WebhookNotifier(), EmailNotifier(host="127.0.0.1", port=smtp.port, sender="s@example.com"),
                 TopicNotifier(produce), LogNotifier()]
    caplog.set_level(logging.INFO, logger="salespulse.notify")
    async with dispatcher(notifiers, rec) as d:
        alert = make_alert(webhook=f"{receiver.base}/ok", emails=("rep@example.com",))
        d.submit(alert)
        await d.join()
    assert produced == [alert] and len(receiver.hits["ok"]) == 1 and len(smtp.messages) == 1
    assert any("[HIGH] Parcel lost" in r.getMessage() for r in caplog.records)
    delivered = sorted(r.channel for r in rec.results if r.outcome == "delivered")
    assert delivered == ["email", "log", "topic", "webhook"]
    assert [(r.attempt, r.outcome) for r in rec.results if r.channel == "topic"] == [(1, "retrying"), (2, "delivered")]
