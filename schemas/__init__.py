"""Pydantic v2 wire models of every event in and out of SalesPulse."""

from schemas.deadletter import DeadLetter, DeadLetterReason
from schemas.events import (
    EVENT_MODELS,
    INPUT_ADAPTER,
    SCHEMA_VERSION,
    CampaignSpendEvent,
    Channel,
    EventBase,
    FeedbackEvent,
    FunnelEvent,
    FunnelStage,
    IncidentEvent,
    LineItem,
    OrderEvent,
    OrderStatus,
    Severity,
)

__all__ = [
    "EVENT_MODELS", "INPUT_ADAPTER", "SCHEMA_VERSION", "CampaignSpendEvent", "Channel",
    "DeadLetter", "DeadLetterReason", "EventBase", "FeedbackEvent", "FunnelEvent",
    "FunnelStage", "IncidentEvent", "LineItem", "OrderEvent", "OrderStatus", "Severity",
]
