"""Every Prometheus metric SalesPulse exports, built against an injectable registry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pycountry
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import generate_latest
from prometheus_client import disable_created_metrics

# *_created series double the scrape size and no dashboard uses them
disable_created_metrics()

# Processing time of one event is tens of microseconds; latency end to end is ms to s.
_FAST = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_ACK = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800)


# ISO 4217 currency codes (pycountry's copy of the standard's table, kept current by its releases)
ISO_4217 = frozenset(c.alpha_3 for c in pycountry.currencies)

class Metrics:
    """One instance per process; tests pass a private CollectorRegistry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self._seen: dict[str, set[str]] = {}
        # labels fed by input with a closed list of values: anything else is "other"
        self._closed: dict[str, frozenset[str]] = {"currency": ISO_4217}
        p = "salespulse_"
        self.info = Info(p + "build", "SalesPulse version and broker kind", registry=r)
        # Pipeline health.
        self.consumed = Counter(p + "events_consumed_total", "Messages read from input topics", ["topic"], registry=r)
        self.processed = Counter(p + "events_processed_total", "Valid events processed", ["topic"], registry=r)
        self.invalid = Counter(p + "events_invalid_total", "Messages sent to the dead-letter topic", ["topic", "reason"], registry=r)
        self.duplicates = Counter(p + "events_duplicate_total", "Redelivered events recognised and ignored", ["topic"], registry=r)
        self.processing = Histogram(p + "event_processing_seconds", "Time an agent spends per event (decode, handlers, rows queued): the mean over each batch it takes, observed once per batch", ["topic"], buckets=_FAST, registry=r)
        self.batch_events = Histogram(p + "agent_batch_events", "Events an agent took from its stream in one batch (what had arrived: 1 when quiet, up to worker.batch_max when behind)", ["topic"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000), registry=r)
        self.latency = Histogram(p + "event_latency_seconds", "From occurred_at to processed", ["topic"], buckets=_LATENCY, registry=r)
        self.lag = Gauge(p + "consumer_lag_messages", "End offset minus committed offset", ["topic", "partition"], registry=r)
        self.assigned = Gauge(p + "partitions_assigned", "Partitions assigned to this worker", registry=r)
        self.rebalances = Counter(p + "rebalances_total", "Consumer group rebalances seen", registry=r)
        self.rebalance_skips = Counter(p + "rebalance_skips_total", "Messages faust dropped unprocessed at a rebalance: not acked, read again from the committed offset", registry=r)
        self.db_write = Histogram(p + "db_write_seconds", "One batched database write", ["table"], buckets=_FAST[3:] + (1.0, 5.0), registry=r)
        self.flush_phase = Histogram(p + "writer_flush_seconds", "One writer flush by phase: before-flush hooks (profiles), the database write, waiting for the output records' delivery", ["phase"], buckets=_FAST[3:-1] + (0.25, 0.5, 1.0, 5.0), registry=r)
        self.loop_lag = Histogram(p + "event_loop_lag_seconds", "How late a 0.25 s timer of the worker's event loop fires: the loop was busy with other work (events wait that long)", buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0), registry=r)
        self.gc_pause = Histogram(p + "gc_pause_seconds", "One garbage-collector pass (the event loop waits for it) by generation", ["generation"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0), registry=r)
        self.db_rows = Counter(p + "db_rows_written_total", "Rows written (upserts)", ["table"], registry=r)
        self.db_refused = Counter(p + "db_rows_refused_total", "Rows the database refused for their values (not an outage), with the other rows of their event: isolated, the event dead-lettered as storage_error", ["table"], registry=r)
        self.db_errors = Counter(p + "db_write_errors_total", "Failed database writes (retried)", ["table"], registry=r)
        self.db_up = Gauge(p + "db_up", "1 when the last database write succeeded", registry=r)
        self.output_failures = Counter(p + "output_delivery_failures_total", "Output records the broker did not take: resent (their source events stay unacked meanwhile) or given up when the error cannot be retried", ["outcome"], registry=r)
        self.pending = Gauge(p + "writer_pending_events", "Events processed but not yet written and acknowledged", registry=r)
        self.table_size = Gauge(p + "table_keys", "Keys held in a worker state table", ["table"], registry=r)
        # Feedback classification.
        self.classified = Counter(p + "feedback_classified_total", "Classified feedback", ["category", "sentiment", "urgency", "language"], registry=r)
        self.sentiment = Counter(p + "feedback_sentiment_total", "Classified feedback by sales channel and sentiment", ["channel", "sentiment"], registry=r)
        self.competitor_mentions = Counter(p + "competitor_mentions_total", "Competitors named in classified feedback, by competitor id (config/competitors.yaml; other beyond it) and what was compared", ["competitor", "compared"], registry=r)
        self.classify_time = Histogram(p + "feedback_classification_seconds", "Classification time", buckets=_FAST, registry=r)
        self.review_queue = Gauge(p + "feedback_review_queue", "Classified feedback awaiting human review", registry=r)
        self.classifier_backlog = Gauge(p + "feedback_classifier_backlog", "Feedback handed to the classifier's process and not yet applied (its events wait unacked)", registry=r)
        self.classifier_batch = Histogram(p + "feedback_classifier_batch_size", "Messages in one request to the classifier's process", buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000), registry=r)
        self.classifier_fallbacks = Counter(p + "feedback_classifier_fallbacks_total", "Batches the worker classified itself: its classifier process was lost, or could not start", registry=r)
        # Customers and KPIs.
        self.orders = Counter(p + "orders_total", "Orders counted (paid once per order id; as in revenue, orders no exchange rate covers are left out)", ["channel", "region"], registry=r)
        self.revenue = Counter(p + "revenue_total", "Revenue of counted orders, in the reporting currency (config/currencies.yaml; the label names it); orders no rate covers are left out", ["channel", "region", "currency"], registry=r)
        self.refunds = Counter(p + "refunds_total", "Refunded amount, in the reporting currency (the label names it)", ["channel", "region", "currency"], registry=r)
        self.kpi_unconverted = Counter(p + "kpi_unconverted_amount_total", "Paid and refunded order amounts and campaign spend no exchange rate covers at their time (config/currencies.yaml), in units of their own currency: kept out of the KPIs' revenue, AOV and ROI", ["currency"], registry=r)
        self.segment_customers = Gauge(p + "customers", "Customers per RFM segment (this worker's partitions)", ["segment"], registry=r)
        self.followups = Counter(p + "followups_total", "Follow-up tasks raised", ["reason"], registry=r)
        self.cases = Counter(p + "cases_total", "After-sales cases opened and updated by feedback, and SLAs missed (event: opened, updated, breached_first_response, breached_resolution)", ["event", "category"], registry=r)
        self.receivables_overdue = Counter(p + "receivables_overdue_total", "Invoiced orders found unpaid past their due date (each once: a payment_overdue follow-up and a finance notice)", ["region"], registry=r)
        self.notices_sent = Counter(p + "notices_sent_total", "Notices other than incident alerts delivered (kind: payment_overdue, digest), per channel", ["kind", "channel"], registry=r)
        self.followup_actions = Counter(p + "followup_actions_total", "Follow-up transitions applied through the API (start, done, snooze, dismiss; wake by the sweep)", ["action"], registry=r)
        self.followups_overdue = Counter(p + "followups_overdue_total", "Overdue follow-ups that raised their followup_overdue incident (once each)", registry=r)
        self.followup_notices = Counter(p + "followup_notices_total", "Batched notices of new follow-ups to their owners, by outcome (sent, failed)", ["outcome"], registry=r)
        self.coaching_items = Counter(p + "coaching_items_total", "Coaching items by event: opened and recovered by the sweep, assigned and done by people; metric: the rule's (config/training.yaml)", ["event", "metric"], registry=r)
        self.signals_fired = Counter(p + "signals_fired_total", "Business signals that raised an incident (config/signals.yaml), by kind: complaint_rate, negative_share, target_pace, campaign_roi", ["kind"], registry=r)
        # Escalation.
        self.incidents_open = Gauge(p + "incidents_open", "Open incidents", ["severity", "level"], registry=r)
        self.escalations = Counter(p + "escalations_total", "Escalation notifications fired", ["level", "severity"], registry=r)
        self.time_to_ack = Histogram(p + "incident_time_to_ack_seconds", "From trigger to acknowledgement", ["severity"], buckets=_ACK, registry=r)
        self.deadline_misses = Counter(p + "escalation_deadline_misses_total", "Acknowledgement deadlines that passed", ["level"], registry=r)
        self.sweep_heartbeat = Gauge(p + "escalation_last_sweep_timestamp_seconds", "Unix time the escalation deadlines were last swept", registry=r)
        self.notify_sent = Counter(p + "notifications_sent_total", "Notifications delivered", ["channel"], registry=r)
        self.notify_failures = Counter(p + "notification_failures_total", "Notification attempts that failed", ["channel", "kind"], registry=r)
        self.notify_latency = Histogram(p + "notification_latency_seconds", "Duration of one successful delivery attempt", ["channel"], buckets=_LATENCY, registry=r)
        # HTTP ingestion (POST /events); channel = the token's channel, "none" before authentication.
        self.http_ingested = Counter(p + "http_events_ingested_total", "Events accepted over HTTP and produced to their topic", ["channel", "event_type"], registry=r)
        self.http_rejected = Counter(p + "http_ingest_rejections_total", "POST /events requests refused", ["channel", "reason"], registry=r)

    def allow(self, label: str, values: Iterable[str]) -> None:
        """Close the values `label` may take (regions from the directory): others count as "other"."""
        self._closed[label] = frozenset(values)

    def bounded(self, label: str, value: str | None, limit: int = 50) -> str:
        """A label value fed by input, kept bounded: its closed list (`allow`; ISO 4217 for currency)
        where there is one, else the first `limit` distinct values; "other" beyond either."""
        if not value:
            return "unknown"
        closed = self._closed.get(label)
        if closed is not None:
            return value if value in closed else "other"
        seen = self._seen.setdefault(label, set())
        if value in seen:
            return value
        if len(seen) < limit:
            seen.add(value)
            return value
        return "other"

    def zero_failures(self, input_topics: list[str], channels: list[str]) -> None:
        """Pre-create failure series at 0 where the labels are known, so rate() and alerts see them
        before the first failure (dead letters per topic and reason, notification failures per channel)."""
        from schemas.deadletter import DeadLetterReason

        for topic in input_topics:
            for reason in DeadLetterReason:
                self.invalid.labels(topic, reason.value)
        for channel in channels:
            for kind in ("transient", "permanent"):
                self.notify_failures.labels(channel, kind)
        self.notify_failures.labels("*", "dropped")  # a full delivery queue drops an alert for every channel
        for outcome in ("resent", "given_up"):
            self.output_failures.labels(outcome)

    def forget_partitions(self, partitions) -> None:
        """Remove the lag series of revoked partitions (another worker reports them now)."""
        for tp in partitions:
            try:
                self.lag.remove(tp.topic, str(tp.partition))
            except KeyError:  # never reported here
                pass

    def exposition(self, names: Iterable[str] = ()) -> bytes:
        """The text page; only the series `names` when given (as prometheus_client's own handler
        does for `?name[]=...`: a poller reading one counter does not render a few hundred series)."""
        names = list(names)
        return generate_latest(self.registry.restricted_registry(names) if names else self.registry)


LOOP_LAG_TICK_S = 0.25


async def watch_loop_lag(histogram: Histogram, tick_s: float = LOOP_LAG_TICK_S) -> None:
    """Observe how late a `tick_s` sleep wakes, forever: the time the event loop spent on other
    work (a long synchronous step, a collector pass, a saturated worker) before it could run a
    ready task. Four wake-ups a second cost nothing measurable."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(tick_s)
        histogram.observe(max(0.0, loop.time() - start - tick_s))
