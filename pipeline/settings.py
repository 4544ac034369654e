"""Typed settings built once from SALESPULSE_* environment variables and .env; passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, NonNegativeInt, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class KafkaSettings(BaseModel):
    """Broker connection and the client tuning that depends on which broker it is."""

    broker: str = Field("kafka://127.0.0.1:9092", description="faust broker URL, kafka://host:port[;host:port]")
    # tansu needs a short session (it holds JoinGroup for half of it) and one record per
    # producer batch (its ListOffsets is wrong otherwise); see docs in README.
    flavour: Literal["kafka", "tansu"] = "kafka"
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 2.0
    fetch_max_wait_ms: int = Field(10, ge=0, le=5000, description="consumer fetch wait; latency floor on brokers that do not answer early")
    idle_fetch_max_wait_ms: int = Field(
        100, ge=0, le=5000,
        description="fetch wait after a second without records (a quiet worker polls less); on a broker "
                    "that does not answer early (Tansu) the first record after a quiet second may wait that long")
    producer_linger_ms: float = 1.0
    producer_max_batch_size: int | None = None
    partitions: int = Field(4, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @field_validator("broker")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith("kafka://"):
            raise ValueError(f"broker URL must start with kafka://, got {v!r}")
        return v

    @property
    def bootstrap_servers(self) -> list[str]:
        return [h for h in self.broker.removeprefix("kafka://").split(";") if h]

    def for_flavour(self) -> "KafkaSettings":
        """Settings adjusted to the broker's measured quirks (see docs/brokers in README)."""
        if self.flavour == "tansu":
            return self.model_copy(update={"session_timeout_s": min(self.session_timeout_s, 6.0),
                                           "producer_max_batch_size": 1})
        return self

    @property
    def quiet_fetch_wait_ms(self) -> int:
        """The quiet worker's fetch wait, never below the fetch wait itself."""
        return max(self.idle_fetch_max_wait_ms, self.fetch_max_wait_ms)


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///var/salespulse.db"
    echo: bool = False
    pool_size: int = 5
    write_batch_max: int = Field(500, ge=1, description="rows per batched upsert")
    flush_interval_ms: int = Field(20, ge=1, description="longest a received event waits before its batch is written")
    retry_max_s: float = Field(10.0, description="longest pause between database retries during an outage")

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class WebSettings(BaseModel):
    """The worker's HTTP listener, the metrics listener, and how often one token may read."""

    host: str = "127.0.0.1"
    port: int = 6066
    # None: /metrics is served on `port` (a single local worker); set, it is served only there, so
    # the API port can face people while the scrape port stays on the monitoring network.
    metrics_port: int | None = Field(None, ge=1, le=65535, description="own listener for /metrics")
    metrics_host: str = Field("127.0.0.1", description="interface of the metrics listener")
    read_rate_per_s: float = Field(5.0, gt=0, description="reads per second per API token (token bucket refill)")
    read_burst: int = Field(30, ge=1, description="reads one API token may make at once")


class WorkerSettings(BaseModel):
    app_id: str = "salespulse"
    data_dir: Path = Path("var/worker")
    store: str = "memory://"
    commit_interval_s: float = 1.0
    log_level: str = "WARNING"
    raise_high_feedback: bool = Field(True, description="raise incidents for high-urgency feedback, not only critical")
    classifier_process: bool = Field(
        True, description="classify feedback in a process of its own, in batches, while the worker goes on "
        "(False: in the worker's event loop, one message at a time); see bench/README.md")
    batch_max: int = Field(
        500, ge=1, le=10_000, description="most events an agent takes from its stream in one batch: it takes "
        "what has already arrived, never waiting for more, so a quiet stream goes one event at a time and a "
        "backlog in batches up to this (pipeline/consume.py)")
    max_event_bytes: int = Field(256_000, description="larger messages go to the dead-letter topic")
    future_tolerance_s: float = Field(
        3600.0, ge=0, description="clock skew allowed to a producer: an event whose occurred_at is later than "
        "this past the worker's clock is dead-lettered as implausible_time")
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop", description="uvloop (libuv) or the standard asyncio loop; see bench/README.md for the difference")
    gc_threshold: tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt] = Field(
        (20_000, 20, 10), description="gc.set_threshold for the worker (Python's default is 700, 10, 10); "
        "startup objects and each assignment's loaded state are frozen out of collections (bench/README.md)")


class NotifySettings(BaseModel):
    """Where escalation alerts go besides the `escalations` topic and the log."""

    webhook_url: str | None = Field(None, description="one team channel for every alert; per-person webhooks come from the directory")
    webhook_per_person: bool = True
    slack_format: bool = False
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "salespulse@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    timeout_s: float = 5.0
    max_attempts: int = 5
    delivery_concurrency: int = Field(64, ge=1, le=1024, description="deliveries in flight at once (16 measured too few at 200 incidents/s)")
    sweep_interval_s: float = Field(0.5, description="how often due escalation deadlines are checked")


class IngestHttpSettings(BaseModel):
    """POST /events: per-channel API tokens (stored as SHA-256 hex only) and the limits of one request."""

    # {"phone": ["<sha256 hex>", ...], ...}; several hashes per channel allow rotation. Make one with
    # `salespulse ingest token --channel phone`. No token configured -> every request gets 401.
    tokens_sha256: dict[str, list[str]] = Field(default_factory=dict, description="channel -> SHA-256 hex of its token(s)")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger request bodies get 413")
    max_batch_events: int = Field(1000, ge=1, description="more events in one request get 413")
    rate_per_s: float = Field(1000.0, gt=0, description="events per second per token (token bucket refill)")
    burst: int = Field(2000, ge=1, description="token bucket size; at least max_batch_events")
    produce_timeout_s: float = Field(10.0, gt=0, description="longest wait for the broker to acknowledge a batch (503 after)")

    @field_validator("tokens_sha256", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return {k: [h] if isinstance(h, str) else h for k, h in v.items()} if isinstance(v, dict) else v

    @field_validator("tokens_sha256")
    @classmethod
    def _known_channels_and_hex(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        from schemas.events import Channel

        known = {c.value for c in Channel}
        for channel, hashes in v.items():
            if channel not in known:
                raise ValueError(f"unknown channel {channel!r} (known: {', '.join(sorted(known))})")
            for h in hashes:
                if len(h) != 64 or any(c not in "0123456789abcdef" for c in h.lower()):
                    raise ValueError(f"channel {channel!r}: a token hash must be 64 hex characters (SHA-256)")
        return {k: [h.lower() for h in hs] for k, hs in v.items()}

    @field_validator("burst")
    @classmethod
    def _burst_fits_a_batch(cls, v: int, info) -> int:
        batch = info.data.get("max_batch_events", 1)
        if v < batch:
            raise ValueError(f"burst ({v}) must be at least max_batch_events ({batch}), or a full batch never passes")
        return v


class HttpLimitsSettings(BaseModel):
    """Every route of the worker's HTTP server: how slow a client may be, how many connect, what a body may hold."""

    header_timeout_s: float = Field(10.0, gt=0, description="a connection sends a whole request head within this "
                                    "many seconds of opening or of its previous answer, or is closed (idle ones too)")
    body_timeout_s: float = Field(30.0, gt=0, description="a request body arrives whole within this many seconds "
                                  "of its head, or gets 408 and the connection is closed")
    max_connections: int = Field(256, ge=1, description="open connections at once; the next gets 503 and is closed")
    max_json_depth: int = Field(32, ge=1, le=200, description="JSON bodies nested deeper get 400")
    max_body_bytes: int = Field(65_536, ge=1024, description="body limit of the routes without their own "
                                "(POST /events has SALESPULSE_INGEST_HTTP__MAX_BODY_BYTES)")


class PathsSettings(BaseModel):
    config_dir: Path = CONFIG_DIR
    escalation_policy: Path | None = None
    directory: Path | None = None
    classifier_dir: Path | None = None
    targets: Path | None = None
    currencies: Path | None = None
    followup: Path | None = None
    signals: Path | None = None
    cases: Path | None = None
    receivables: Path | None = None
    scorecards: Path | None = None
    incentives: Path | None = None
    training: Path | None = None

    def resolve(self, name: str, default: str) -> Path:
        value = getattr(self, name)
        return Path(value) if value else self.config_dir / default


class Settings(BaseSettings):
    """Everything a worker or CLI command needs; domain code receives parts of it."""

    model_config = SettingsConfigDict(
        env_prefix="SALESPULSE_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    kafka: KafkaSettings = KafkaSettings()
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings = WebSettings()
    worker: WorkerSettings = WorkerSettings()
    paths: PathsSettings = PathsSettings()
    notify: NotifySettings = NotifySettings()
    ingest_http: IngestHttpSettings = IngestHttpSettings()
    http: HttpLimitsSettings = HttpLimitsSettings()
    topic_prefix: str = Field("", description="prefix for every topic name (tests use one per run)")

    def masked(self) -> dict:
        """For logs: secrets masked (SecretStr dumps as '**********')."""
        return self.model_dump(mode="json")
