"""SMTP sink: alert -> one plain-text email per target with an address (stdlib smtplib in a thread)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import Sequence

from pipeline.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from pipeline.notify.base import body, summary
from schemas.escalation import EscalationAlert, Target


def message(alert: EscalationAlert, sender: str, to: str, attempt: int = 1) -> EmailMessage:
    """The email: Message-ID derived from notification_id so mail systems can drop duplicates too."""
    msg = EmailMessage()
    msg["Subject"] = summary(alert)
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{alert.notification_id}.{to}@salespulse>"
    msg["X-SalesPulse-Notification-Id"] = str(alert.notification_id)
    msg["X-SalesPulse-Attempt"] = str(attempt)
    msg.set_content(body(alert))
    return msg


def _by_code(code: int, what: str) -> DeliveryError:
    """SMTP reply code -> 4xx transient (try later), 5xx permanent."""
    cls = TransientDeliveryError if 400 <= code < 500 else PermanentDeliveryError
    return cls(f"smtp: {what} ({code})")


class EmailNotifier:
    channel = "email"

    def __init__(self, *, host: str, port: int = 25, sender: str, timeout: float = 10.0, starttls: bool = False,
                 username: str | None = None, password: str | None = None) -> None:
        self._host, self._port, self._sender, self._timeout = host, port, sender, timeout
        self._starttls, self._username, self._password = starttls, username, password

    def recipients(self, alert: EscalationAlert) -> Sequence[Target | None]:
        return tuple(t for t in alert.targets if t.email)

    async def send(self, alert: EscalationAlert, recipient: Target | None, attempt: int = 1) -> None:
        if recipient is None or not recipient.email:
            raise PermanentDeliveryError("smtp: recipient has no email address")
        await asyncio.to_thread(self._send, message(alert, self._sender, recipient.email, attempt))

    async def send_message(self, msg: EmailMessage) -> None:
        """A message built elsewhere (notices, digests) over the same connection settings and error mapping."""
        await asyncio.to_thread(self._send, msg)

    def _send(self, msg: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes) if all(400 <= c < 500 for c in codes) else max(codes),
                           f"recipient refused: {', '.join(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error.decode(errors="replace")
                           if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, disconnected, timed out
            raise TransientDeliveryError(f"smtp {self._host}:{self._port}: {type(exc).__name__}: {exc}") from None
