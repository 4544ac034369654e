"""Notices that are not incident alerts (a finance notice, a digest): (notice, recipient) -> email and / or
webhook with retry and backoff on recoverable errors, over the same SMTP and HTTP senders as alerts."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

import aiohttp
import orjson

from pipeline.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from pipeline.notify.retry import Backoff
from pipeline.notify.smtp import EmailNotifier
from pipeline.notify.webhook import classify, user_agent
from schemas.escalation import Target

log = logging.getLogger("salespulse.notify")


@dataclass(frozen=True)
class Notice:
    """One message to one person: `notice_id` is stable for the same notice, whoever sends it."""

    notice_id: uuid.UUID
    kind: str                      # e.g. payment_overdue, digest
    subject: str
    text: str
    data: dict = field(default_factory=dict)   # the webhook body's `data`: the figures behind the text


class NoticeSender:
    """Sends a Notice by every channel the recipient has and this worker is configured for."""

    def __init__(self, *, smtp: EmailNotifier | None, sender: str, webhooks: bool = True, timeout: float = 5.0,
                 max_attempts: int = 5, backoff: Backoff | None = None) -> None:
        self._smtp, self._sender, self._webhooks = smtp, sender, webhooks
        self._timeout, self._max_attempts, self._backoff = timeout, max_attempts, backoff or Backoff()
        self._session: aiohttp.ClientSession | None = None

    def channels(self, to: Target) -> list[str]:
        return (["email"] if self._smtp is not None and to.email else []) + \
               (["webhook"] if self._webhooks and to.webhook else [])

    async def send(self, notice: Notice, to: Target) -> list[str]:
        """The channels that took the notice (retried while the error is transient); never raises."""
        done = []
        for channel in self.channels(to):
            for attempt in range(1, self._max_attempts + 1):
                try:
                    await (self._email if channel == "email" else self._webhook)(notice, to, attempt)
                    done.append(channel)
                    break
                except TransientDeliveryError as exc:
                    if attempt == self._max_attempts:
                        log.warning("notice %s to %s by %s given up: %s", notice.kind, to.id, channel, exc)
                    else:
                        await asyncio.sleep(self._backoff.delay(attempt))
                except DeliveryError as exc:
                    log.warning("notice %s to %s by %s failed: %s", notice.kind, to.id, channel, exc)
                    break
        return done

    async def _email(self, notice: Notice, to: Target, attempt: int) -> None:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = notice.subject, self._sender, to.email
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{notice.notice_id}.{to.email}@salespulse>"
        msg["X-SalesPulse-Notification-Id"] = str(notice.notice_id)
        msg["X-SalesPulse-Attempt"] = str(attempt)
        msg["X-SalesPulse-Kind"] = notice.kind
        msg.set_content(notice.text)
        await self._smtp.send_message(msg)

    async def _webhook(self, notice: Notice, to: Target, attempt: int) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        body = orjson.dumps({"event_type": "notice", "kind": notice.kind, "notice_id": str(notice.notice_id),
                             "recipient": to.id, "subject": notice.subject, "text": notice.text,
                             "data": notice.data}, default=str)
        headers = {"Content-Type": "application/json", "User-Agent": user_agent(),
                   "X-SalesPulse-Notification-Id": str(notice.notice_id), "X-SalesPulse-Attempt": str(attempt)}
        try:
            async with self._session.post(to.webhook, data=body, headers=headers) as resp:
                await resp.read()
                classify(resp.status, to.webhook)
        except (asyncio.TimeoutError, TimeoutError):
            raise TransientDeliveryError(f"webhook {to.webhook}: no answer within {self._timeout:g}s") from None
        except aiohttp.InvalidURL:
            raise PermanentDeliveryError(f"webhook {to.webhook}: invalid URL") from None
        except aiohttp.ClientError as exc:
            raise TransientDeliveryError(f"webhook {to.webhook}: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
