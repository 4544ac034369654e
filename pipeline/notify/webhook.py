"""HTTP webhook sink: alert -> POST JSON (the alert itself, or Slack's {"text": ...}) to each target's URL."""

from __future__ import annotations

import asyncio
import os
import socket
from importlib import metadata
from typing import Sequence

import aiohttp
import orjson

from pipeline.errors import PermanentDeliveryError, TransientDeliveryError
from pipeline.notify.base import body
from schemas.escalation import EscalationAlert, Target

RETRYABLE_STATUS = frozenset({408, 425, 429})


def user_agent() -> str:
    """Names the sending worker (host and process): which worker sent a page, for whoever reads the logs."""
    try:
        version = metadata.version("salespulse")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"SalesPulse/{version} ({socket.gethostname()}; pid {os.getpid()})"


def slack_payload(alert: EscalationAlert) -> dict:
    """Slack incoming-webhook form: one mrkdwn text block (also accepted by Mattermost and Teams' Slack mode)."""
    first, _, rest = body(alert).partition("\n")
    return {"text": f"*{first}*\n{rest.strip()}"}


def classify(status: int, url: str) -> None:
    """HTTP status -> return (2xx), TransientDeliveryError (408/425/429/5xx) or PermanentDeliveryError (other 4xx)."""
    if 200 <= status < 300:
        return
    if status in RETRYABLE_STATUS or status >= 500:
        raise TransientDeliveryError(f"webhook {url}: HTTP {status}")
    raise PermanentDeliveryError(f"webhook {url}: HTTP {status}")


class WebhookNotifier:
    """Per-person webhooks (Target.webhook), or one fixed `url` for a team channel."""

    channel = "webhook"

    def __init__(self, *, url: str | None = None, slack: bool = False, timeout: float = 5.0,
                 headers: dict[str, str] | None = None, session: aiohttp.ClientSession | None = None) -> None:
        self._url, self._slack, self._timeout = url, slack, timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout)
        self._headers = {"Content-Type": "application/json", "User-Agent": user_agent(), **(headers or {})}
        self._session, self._own_session = session, session is None

    def recipients(self, alert: EscalationAlert) -> Sequence[Target | None]:
        return (None,) if self._url else tuple(t for t in alert.targets if t.webhook)

    async def send(self, alert: EscalationAlert, recipient: Target | None, attempt: int = 1) -> None:
        url = self._url or (recipient.webhook if recipient else None)
        if not url:
            raise PermanentDeliveryError("webhook: no URL for this recipient")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        # serialised by pydantic-core (the alert) or orjson (Slack form): no stdlib json on the page path
        payload = orjson.dumps(slack_payload(alert)) if self._slack else alert.model_dump_json().encode()
        # at-least-once: a retry (attempt > 1) carries the same notification id; receivers dedupe on it
        headers = {"X-SalesPulse-Notification-Id": str(alert.notification_id), "X-SalesPulse-Attempt": str(attempt),
                   **self._headers}
        try:
            async with self._session.post(url, data=payload, headers=headers, timeout=self._client_timeout) as resp:
                await resp.read()
                classify(resp.status, url)
        except (asyncio.TimeoutError, TimeoutError):
            raise TransientDeliveryError(f"webhook {url}: no answer within {self._timeout:g}s") from None
        except aiohttp.InvalidURL:
            raise PermanentDeliveryError(f"webhook {url}: invalid URL") from None
        except aiohttp.ClientError as exc:  # refused, reset, DNS: the receiver may be back soon
            raise TransientDeliveryError(f"webhook {url}: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
            self._session = None
