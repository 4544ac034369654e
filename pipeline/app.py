"""The app factory: settings -> a faust app with its topics, agents, writer and web pages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import faust

from pipeline import deadletters
from pipeline import topics as T
from pipeline.metrics import Metrics, watch_loop_lag
from pipeline.runtime import Runtime
from pipeline.settings import Settings
from pipeline.transport import Transport
from pipeline.undecodable import DeadLetterUndecodable
from pipeline.worker import freeze_loaded_state

log = logging.getLogger(__name__)
PRODUCER_FLUSH_S = 5.0


class SalesPulseApp(faust.App):
    """faust.App whose transport honours our fetch-wait setting and whose web server our HTTP limits, without
    faust's Monitor sensor."""

    def _new_transport(self):
        return Transport(self.conf.broker_consumer, self)

    def _new_web(self):
        # faust's `web` setting names a driver by URL only; ours is its aiohttp driver with the
        # limits every route needs (pipeline/http.py)
        from pipeline.http import SalesPulseWeb

        return SalesPulseWeb(self, limits=getattr(self.conf, "salespulse_http_limits", None))

    async def _producer_flush(self, logger) -> None:
        # faust waits for every produced record at shutdown, and a record sent to a broker that then
        # went away waits out the producer's request timeout (20 min): SIGTERM would end in SIGKILL.
        # Bounded instead: an output not confirmed by now belongs to an event that is not acked (the
        # writer acks only after its outputs are confirmed), so it is produced again on redelivery.
        try:
            await asyncio.wait_for(super()._producer_flush(logger), timeout=PRODUCER_FLUSH_S)
        except asyncio.TimeoutError:
            log.warning("producer flush not done within %.0f s (broker away?); unconfirmed outputs are "
                        "produced again when their events are redelivered", PRODUCER_FLUSH_S)

    def on_init_dependencies(self):
        # faust adds its Monitor to the sensors here; it records statistics on every message
        # and stream event (4 calls per event) that only faust's own /stats pages read. Our
        # Prometheus metrics replace it. Consumer calls that go to app.monitor directly still work.
        deps = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return deps


def faust_kwargs(settings: Settings) -> dict:
    """faust settings derived from ours, with the broker quirks applied."""
    k = settings.kafka.for_flavour()
    kwargs: dict = dict(
        broker=k.broker,
        store=settings.worker.store,
        datadir=str(settings.worker.data_dir),
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",  # exactly_once is unsupported on Tansu and buggy in faust
        broker_session_timeout=k.session_timeout_s,
        broker_heartbeat_interval=k.heartbeat_interval_s,
        broker_commit_interval=settings.worker.commit_interval_s,
        producer_linger=k.producer_linger_ms / 1000.0,
        producer_acks=-1,
        web_enabled=True,
        web_host=settings.web.host,
        web_port=settings.web.port,
        web_in_thread=False,
        # the Monitor sensor costs CPU per event and is left out (SalesPulseApp.on_init_dependencies)
        table_cleanup_interval=30.0,
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        consumer_metadata_max_age_ms=60_000,  # safety net for topics created after start-up
        loghandlers=[],
    )
    # No producer_max_batch_size here: Tansu's one-record batches (KafkaSettings.for_flavour)
    # only keep faust's changelog recovery exact, and SalesPulse keeps no faust tables (state is
    # in SQL). With them a second send to a partition waits until the first has left in a
    # produce request. create_app puts them back if a table is ever declared.
    if k.security_protocol != "PLAINTEXT":
        kwargs["broker_credentials"] = kafka_credentials(settings)
    return kwargs


def set_fetch_waits(app: faust.App, settings: Settings) -> None:
    """The fetch waits our consumer thread reads (pipeline/transport.py): the worker's and the
    bench's no-op floor app, alike."""
    app.conf.salespulse_fetch_max_wait_ms = settings.kafka.fetch_max_wait_ms
    app.conf.salespulse_idle_fetch_max_wait_ms = settings.kafka.quiet_fetch_wait_ms


def kafka_credentials(settings: Settings):
    """faust credentials for SASL and/or TLS from settings (see README: Security)."""
    import ssl

    k = settings.kafka
    context = None
    if k.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(k.ssl_cafile) if k.ssl_cafile else None)
        if k.ssl_certfile:
            context.load_cert_chain(str(k.ssl_certfile), str(k.ssl_keyfile) if k.ssl_keyfile else None)
    if k.security_protocol.startswith("SASL"):
        password = k.sasl_password.get_secret_value() if k.sasl_password else ""
        if k.sasl_mechanism and k.sasl_mechanism.startswith("SCRAM"):
            from faust.auth import SASLCredentials

            return SASLCredentials(username=k.sasl_username, password=password, mechanism=k.sasl_mechanism, ssl_context=context)
        from faust.auth import SASLCredentials

        return SASLCredentials(username=k.sasl_username, password=password, ssl_context=context)
    from faust.auth import SSLCredentials

    return SSLCredentials(context)


def create_app(settings: Settings, metrics: Metrics | None = None,
               capabilities: Callable[[Runtime], object] | None = None) -> Runtime:
    """Build the app and everything it runs; returns the Runtime that holds them. `capabilities`
    (the composition root's wiring, `agents.build_worker`) registers what the worker does; without
    it the app is the bare runtime (the bench's floor)."""
    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)  # faust only makes the last level
    app = SalesPulseApp(settings.worker.app_id, **faust_kwargs(settings))
    set_fetch_waits(app, settings)
    app.conf.salespulse_http_limits = settings.http  # read when the web driver is built, at the first page
    rt = Runtime(settings=settings, app=app, metrics=metrics or Metrics())
    app.conf.salespulse_undecodable = DeadLetterUndecodable(rt)  # batches the consumer cannot read (pipeline/transport.py)
    app.conf.salespulse_rebalance_skips = rt.metrics.rebalance_skips  # acks the consumer refuses (pipeline/transport.py)
    rt.metrics.info.info({"version": "0.1.0", "broker_flavour": settings.kafka.flavour})
    for spec in T.ALL:
        rt.declare_topic(spec)
    deadletters.register(rt)
    if capabilities is not None:
        capabilities(rt)
    batch = settings.kafka.for_flavour().producer_max_batch_size
    if app.tables and batch:  # changelog recovery on Tansu needs one record per batch
        app.conf.producer_max_batch_size = batch
    _register_lifecycle(rt)
    from pipeline.web import register_pages

    register_pages(rt)
    return rt


# longest a revoke waits for pending writes (within Tansu's 6 s session timeout, see settings)
REVOKE_DRAIN_S = 5.0


def _register_lifecycle(rt: Runtime) -> None:
    app = rt.app

    @app.task
    async def _writer() -> None:
        await rt.writer.run()

    @app.task
    async def _loop_lag() -> None:
        await watch_loop_lag(rt.metrics.loop_lag)

    @app.timer(interval=5.0)
    async def _lag() -> None:
        await rt.update_lag()

    @app.on_partitions_revoked.connect
    async def _revoked(app, revoked, **kwargs) -> None:
        rt.metrics.rebalances.inc()
        # No event is taken from here until the next assignment's state is loaded (Runtime.state_ready);
        # then everything processed so far is written, its outputs delivered, its events acked and its
        # pages sent before the group moves on: a partition's next owner loads that state from SQL. (A
        # single flush with the gate open leaves what agents add meanwhile to be written after the
        # new owner has loaded: it could page an incident again or miss an order in a profile.)
        # Bounded: with the database away the rest is redelivered to the next owner, idempotently.
        rt.state_ready.clear()
        await rt.writer.drain(timeout=REVOKE_DRAIN_S)

    @app.on_partitions_assigned.connect
    async def _assigned(app, assigned, **kwargs) -> None:
        rt.state_ready.clear()
        rt.metrics.assigned.set(len(assigned))
        rt.assigned = set(assigned)
        for loader in rt.loaders:
            delay = 0.1
            while True:
                try:
                    await loader(set(assigned))
                    break
                except Exception as exc:  # database away during a rebalance: no event before the state
                    log.warning("state for the new assignment not loaded (%s), retrying in %.1fs: %s",
                                getattr(loader, "__qualname__", loader), delay, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        freeze_loaded_state()
        rt.state_ready.set()

    @app.on_before_shutdown.connect
    async def _shutdown(app, **kwargs) -> None:
        # faust has stopped fetching; its agents would go on with the events in their buffers while
        # the writer drains, and the writer task would write and ack those after the consumer's
        # final commit (120 events stored in a test, then redone by the next worker). Close the gate
        # first: what is processed is written, acked and committed; the rest is redelivered.
        rt.state_ready.clear()
        await rt.writer.drain(timeout=8.0)
        rt.writer.close()

