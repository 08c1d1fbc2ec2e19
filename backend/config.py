"""Settings, read from the environment with the ``VERITY_`` prefix.

Nested groups use a double underscore: ``VERITY_INGEST__MAX_BATCH_RECORDS=5000``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "verity-development-secret-change-me"
DEFAULT_DATA_DIR = Path(".verity")


class IngestSettings(BaseModel):
    max_batch_records: int = Field(10_000, ge=1)
    # Compressed or not, a request body larger than this is refused with 413.
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(512 * 1024 * 1024, ge=1024)
    # A CloudEvents request or response half whose partner has not arrived after this
    # long is marked expired and reported.
    cloudevent_pair_ttl_seconds: float = Field(600.0, gt=0)


class UploadSettings(BaseModel):
    """Model artifacts and reference datasets."""

    # An artifact is loaded and trial-run in a child process with these limits.
    sandbox_memory_bytes: int = Field(default=2 * 1024**3, ge=256 * 1024**2)
    sandbox_seconds: float = Field(default=20.0, gt=0)
    # Checked from the file's own metadata (Parquet) or line count before any frame is
    # built: a small compressed file may hold millions of rows.
    max_reference_rows: int = Field(default=1_000_000, ge=1)
    max_reference_decoded_bytes: int = Field(default=512 * 1024**2, ge=1024)


class AuditSettings(BaseModel):
    """The audit chain."""

    # How often the scheduler signs the head of every chain that grew (and sends the
    # checkpoint to witness webhooks).
    checkpoint_interval_seconds: float = Field(default=3600.0, gt=0)
    # Public keys (base64, raw Ed25519) of signing keys used before a rotation: their
    # checkpoints stay trusted. The current key is always trusted.
    trusted_public_keys: list[str] = Field(default_factory=list)


class LimitSettings(BaseModel):
    """The longest strings the API stores; past each, a 422 naming the field. The
    upper bounds are the database columns' widths."""

    event_id_chars: int = Field(default=128, ge=1, le=128)
    # Categorical feature values, string predictions and labels (pending ones too),
    # tag values.
    value_chars: int = Field(default=256, ge=1, le=65_536)
    # Model, version, monitor, reference, channel and key names.
    name_chars: int = Field(default=100, ge=1, le=200)


class ApiSettings(BaseModel):
    """The HTTP API process."""

    # Requests in flight per worker process past which the API answers 429 with
    # Retry-After. Sync endpoints run on a 40-thread pool; more than that only queue.
    max_in_flight_requests: int = Field(default=64, ge=1)
    overload_retry_after_seconds: int = Field(default=1, ge=1)
    # A request body must start arriving within this many seconds, and keep coming at
    # body_min_rate bytes/s (each body_min_rate bytes buys one more second); past that
    # the request gets 408 and its slot is freed.
    body_timeout_seconds: float = Field(default=20.0, gt=0)
    body_min_rate: int = Field(default=16_384, ge=1)
    # The oldest verity-sdk whose requests this API reads; older ones get 426. 0.1
    # (backend.sdk) sent no version: it is read like any other client.
    min_sdk_version: str = Field(default="0.2.0", pattern=r"^\d+\.\d+\.\d+$")


class CheckSettings(BaseModel):
    """The scheduler and the checks it runs."""

    # "auto": CUDA for explain checks when torch sees a GPU, else the CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    tick_seconds: float = Field(default=10.0, gt=0)
    # A claimed run not stored within this time is offered to another scheduler.
    lease_seconds: int = Field(default=900, ge=10)
    max_backfill_windows: int = Field(default=500, ge=1)
    # What Verity's own check time costs, to record each run's compute cost.
    price_per_cpu_second: float = Field(default=0.0, ge=0)
    price_per_gpu_second: float = Field(default=0.0, ge=0)
    # The scheduler serves its Prometheus counters (runs, alerts, deliveries) on this
    # port at /metrics; 0 turns it off.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Comma-separated monitor kinds this scheduler claims (all when unset): e.g.
    # "explain" on GPU nodes and "drift,bias,cost" on CPU nodes.
    kinds: str | None = None

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from detectors.registry import DETECTORS

        named = [kind.strip() for kind in value.split(",") if kind.strip()]
        unknown = sorted(set(named) - set(DETECTORS))
        if not named or unknown:
            raise ValueError(
                f"kinds must name detector kinds from {sorted(DETECTORS)}; got {value!r}"
            )
        return ",".join(named)

    @property
    def claimed_kinds(self) -> list[str] | None:
        return self.kinds.split(",") if self.kinds else None


class NotifySettings(BaseModel):
    """Outbound alert notifications."""

    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_seconds: float = Field(default=5.0, gt=0)
    max_backoff_seconds: float = Field(default=3600.0, gt=0)
    # Webhook URLs may not reach loopback, private, link-local or reserved addresses
    # unless their host or network is listed here (e.g. "10.0.0.0/8", "hooks.internal").
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_networks: list[str] = Field(default_factory=list)
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"


class RetentionSettings(BaseModel):
    """What the scheduler's retention job deletes, and when. Unset days keep forever.

    Audit events are never deleted: only their payloads, whose SHA-256 stays in the
    chain, so the chain still verifies (and reports how many payloads are gone).
    """

    # Predictions, labels without a prediction, and CloudEvents halves older than this.
    # Windows a monitor uses as its reference, or has still to run, are kept.
    prediction_days: int | None = Field(default=None, ge=1)
    audit_payload_days: int | None = Field(default=None, ge=1)
    # Stored replies to Idempotency-Key retries; a retry after this is stored once
    # still (event ids are unique) but answered as a duplicate.
    idempotency_days: int = Field(default=7, ge=1)
    interval_seconds: float = Field(default=3600.0, gt=0)
    # Rows deleted per transaction, so a purge never holds a long write lock.
    batch_rows: int = Field(default=5_000, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VERITY_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    artifact_dir: Path | None = None
    # Keys API keys' HMAC; rotating it invalidates every issued key.
    secret_key: str = DEFAULT_SECRET_KEY
    # "json": one JSON object per log line, with the request id (for log pipelines).
    log_format: Literal["text", "json"] = "text"
    # PEM Ed25519 private key that signs evidence packs; generated into data_dir if unset.
    evidence_signing_key: str | None = None
    api: ApiSettings = ApiSettings()
    ingest: IngestSettings = IngestSettings()
    limits: LimitSettings = LimitSettings()
    uploads: UploadSettings = UploadSettings()
    audit: AuditSettings = AuditSettings()
    checks: CheckSettings = CheckSettings()
    notify: NotifySettings = NotifySettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
                raise ValueError(
                    "VERITY_SECRET_KEY must be set to a random value of at least 32 "
                    "characters when VERITY_ENVIRONMENT=production"
                )
            if self.database_url is None:
                raise ValueError(
                    "VERITY_DATABASE_URL must be set explicitly when VERITY_ENVIRONMENT=production"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'verity.db').as_posix()}"

    @property
    def resolved_artifact_dir(self) -> Path:
        return self.artifact_dir if self.artifact_dir is not None else self.data_dir / "artifacts"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
