"""Notifiers and the delivery pipeline: EscalationAlert -> webhook, email, topic, log (dedup -> mute -> send/retry)."""

from pipeline.notify.base import DeliveryResult, Notifier
from pipeline.notify.dispatcher import Dispatcher
from pipeline.notify.log import LogNotifier
from pipeline.notify.retry import Backoff
from pipeline.notify.smtp import EmailNotifier
from pipeline.notify.topic import TopicNotifier
from pipeline.notify.webhook import WebhookNotifier

__all__ = ["Backoff", "DeliveryResult", "Dispatcher", "EmailNotifier", "LogNotifier", "Notifier",
           "TopicNotifier", "WebhookNotifier"]
