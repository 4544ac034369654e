"""Every topic name, its partition count and retention, in one place."""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False
    doc: str = ""


# Inputs: what channels emit, keyed by customer id (campaign id for spend).
FEEDBACK_RAW = TopicSpec("feedback.raw", doc="FeedbackEvent from every channel")
ORDERS = TopicSpec("orders", doc="OrderEvent lifecycle updates")
INCIDENTS_RAW = TopicSpec("incidents.raw", doc="IncidentEvent from channels and from urgent feedback")
FUNNEL = TopicSpec("funnel", doc="FunnelEvent stage changes")
CAMPAIGN_SPEND = TopicSpec("campaign.spend", retention_ms=30 * DAY_MS, doc="CampaignSpendEvent")
INCIDENT_COMMANDS = TopicSpec("incidents.commands", doc="ack / resolve commands, keyed by incident key")

# Outputs.
FEEDBACK_CLASSIFIED = TopicSpec("feedback.classified", doc="ClassifiedFeedback")
ESCALATIONS = TopicSpec("escalations", doc="every escalation notification sent")
FOLLOWUPS = TopicSpec("followups", doc="FollowUpTask for account owners")
DIGESTS = TopicSpec("digests", doc="FeedbackDigest hourly and daily")
KPIS = TopicSpec("kpis", compacted=True, doc="latest KpiSnapshot per window (granularity:bucket), throttled")
CUSTOMER_PROFILES = TopicSpec("customers.profiles", compacted=True, doc="latest CustomerProfileSnapshot per customer")
DEADLETTER = TopicSpec("deadletter", retention_ms=30 * DAY_MS, doc="DeadLetter: reason + original bytes")

INPUTS: tuple[TopicSpec, ...] = (FEEDBACK_RAW, ORDERS, INCIDENTS_RAW, FUNNEL, CAMPAIGN_SPEND)
OUTPUTS: tuple[TopicSpec, ...] = (FEEDBACK_CLASSIFIED, ESCALATIONS, FOLLOWUPS, DIGESTS, KPIS, CUSTOMER_PROFILES,
                                  DEADLETTER)
ALL: tuple[TopicSpec, ...] = INPUTS + (INCIDENT_COMMANDS,) + OUTPUTS

# Which input topic each event type belongs on.
TOPIC_FOR_EVENT_TYPE: dict[str, TopicSpec] = {
    "feedback": FEEDBACK_RAW,
    "order": ORDERS,
    "incident": INCIDENTS_RAW,
    "funnel": FUNNEL,
    "campaign_spend": CAMPAIGN_SPEND,
}


def topic_name(spec: TopicSpec, prefix: str = "") -> str:
    return f"{prefix}{spec.name}"
