"""Batched notices: (person, their new items) -> one email or webhook message per person and interval.

Not an escalation alert: nothing to acknowledge, no chain. Claiming the period and the items is the
caller's (so several workers send one notice per person and period); this stage only renders and sends.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

import aiohttp
import orjson

from pipeline.errors import DeliveryError, TransientDeliveryError
from pipeline.notify.smtp import EmailNotifier
from pipeline.notify.webhook import classify, user_agent


def period_start(now: datetime, minutes: float) -> datetime:
    """The start of the notice period `now` falls in (periods of `minutes` from the epoch)."""
    step = max(1, int(minutes * 60))
    ts = int(now.timestamp())
    return datetime.fromtimestamp(ts - ts % step, tz=now.tzinfo)


@dataclass(frozen=True)
class Notice:
    notice_id: str
    person_id: str
    subject: str
    lines: tuple[str, ...]
    items: tuple[dict, ...]       # JSON-able items for the webhook body

    def text(self) -> str:
        return "\n".join((self.subject, "", *self.lines))


class NoticeSender:
    """Sends a Notice over the person's channels (email and/or webhook), retrying transient failures."""

    def __init__(self, email: EmailNotifier | None, sender: str, timeout_s: float = 5.0, attempts: int = 3) -> None:
        self.email, self.sender, self.timeout_s, self.attempts = email, sender, timeout_s, attempts
        self._session: aiohttp.ClientSession | None = None

    async def send(self, notice: Notice, channels: tuple[str, ...], email: str | None, webhook: str | None) -> list[str]:
        """The channels it reached; a channel that fails every attempt is left out (and logged by the caller)."""
        reached = []
        for channel in channels:
            for attempt in range(1, self.attempts + 1):
                try:
                    if channel == "email" and email and self.email is not None:
                        await asyncio.to_thread(self.email._send, self._message(notice, email, attempt))
                    elif channel == "webhook" and webhook:
                        await self._post(notice, webhook, attempt)
                    else:
                        break
                    reached.append(channel)
                    break
                except TransientDeliveryError:
                    if attempt == self.attempts:
                        raise
                    await asyncio.sleep(0.5 * attempt)
                except DeliveryError:
                    raise
        return reached

    def _message(self, notice: Notice, to: str, attempt: int) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = notice.subject
        msg["From"] = self.sender
        msg["To"] = to
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{notice.notice_id}.{to}@salespulse>"
        msg["X-SalesPulse-Notification-Id"] = notice.notice_id
        msg["X-SalesPulse-Attempt"] = str(attempt)
        msg.set_content(notice.text())
        return msg

    async def _post(self, notice: Notice, url: str, attempt: int) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = orjson.dumps({"notice_id": notice.notice_id, "person_id": notice.person_id, "subject": notice.subject,
                             "text": notice.text(), "items": list(notice.items)})
        headers = {"Content-Type": "application/json", "User-Agent": user_agent(),
                   "X-SalesPulse-Notification-Id": notice.notice_id, "X-SalesPulse-Attempt": str(attempt)}
        try:
            async with self._session.post(url, data=body, headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                await resp.read()
                classify(resp.status, url)
        except (asyncio.TimeoutError, TimeoutError):
            raise TransientDeliveryError(f"webhook {url}: no answer within {self.timeout_s:g}s") from None
        except aiohttp.ClientError as exc:
            raise TransientDeliveryError(f"webhook {url}: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
