"""The core settings (SMSGATE_*), documented in .env.example.

Each provider adapter declares its own block (SMSGATE_SANDBOX_*, SMSGATE_OTPGET_* …) in its
module; `app.providers.registry` reads the blocks of the enabled providers and checks the
provider codes named here. What every upstream shares (timeouts, caps, the breaker) is core.
"""

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class UpstreamCaps(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concurrency: int | None = Field(default=None, ge=0)
    rps: float | None = Field(default=None, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SMSGATE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # Database: unset means "run an embedded Postgres inside data_dir".
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "SMSGATE_DATABASE_URL")
    )
    data_dir: Path = Path("./.data")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "SMSGATE_REDIS_URL")
    )
    admin_token: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "info"

    # --- Observability ---
    # json | console | auto (console when stderr is a terminal, else one JSON object a line).
    log_format: Literal["auto", "json", "console"] = "auto"
    # Bearer token /metrics asks for; unset = /metrics is open (scraped from inside).
    metrics_token: SecretStr | None = None
    # The database-derived gauges (orders, lag, outbox, ledger) are re-read at most this often.
    metrics_db_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # /readyz remembers its database check this long; a stalled poller is "not ready" after
    # this many seconds without a sign of life.
    readyz_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    worker_stale_seconds: float = Field(default=60.0, gt=0)

    max_body_bytes: int = Field(default=1_048_576, ge=1)
    # How long a token lookup is cached in one process. Revocation reaches other
    # processes within this many seconds.
    token_cache_seconds: float = Field(default=2.0, ge=0)

    # First start on an empty database: create a `demo` account and print its token.
    # Unset ("auto") means: only on the embedded database, never on a DATABASE_URL.
    bootstrap_demo: bool | None = None
    demo_balance: int = Field(default=1_000_000, ge=0)
    demo_usd_idr_rate: int = Field(default=16_250, ge=1)

    providers: Annotated[list[str], NoDecode] = ["sandbox"]

    # --- Rate limits and the abuse guard ---
    # Per token and endpoint group, in fixed windows; the API.md limits are the defaults and
    # accounts may have overrides (admin API, `smsgate ratelimits`). Counters live in Redis
    # when REDIS_URL is set (one budget for every process), else in this process.
    rate_limits_enabled: bool = True
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=86_400)
    rate_limit_catalog: int = Field(default=1200, ge=0)
    rate_limit_balance: int = Field(default=600, ge=0)
    rate_limit_order_reads: int = Field(default=1200, ge=0)
    rate_limit_order_create: int = Field(default=1200, ge=0)
    rate_limit_order_cancel: int = Field(default=600, ge=0)
    rate_limit_order_actions: int = Field(default=600, ge=0)
    rate_limit_webhook_config: int = Field(default=120, ge=0)
    # An override reaches other processes within this many seconds (this one at once).
    rate_limit_override_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    # Redis keys start with this (several gateways, or test runs, can share one Redis).
    rate_limit_key_prefix: str = Field(default="smsgate", min_length=1, max_length=64)
    # Redis down is fail-open: each process counts on its own (a budget per process) for
    # `redis_retry_seconds`, then tries Redis again. The timeout bounds each Redis call.
    rate_limit_redis_timeout_seconds: float = Field(default=0.2, gt=0, le=10)
    rate_limit_redis_retry_seconds: float = Field(default=5.0, ge=0, le=3600)
    # An account whose order creations end NO_OFFER_AVAILABLE or INSUFFICIENT_BALANCE at
    # least `min_failures` times and `failure_ratio` of the time within one window may not
    # create for `ban_seconds`. Upstream failures (PROVIDER_ERROR) never count.
    abuse_guard_enabled: bool = True
    abuse_window_seconds: int = Field(default=600, ge=1, le=86_400)
    abuse_min_failures: int = Field(default=30, ge=1)
    abuse_failure_ratio: float = Field(default=0.9, gt=0, le=1)
    abuse_ban_seconds: int = Field(default=300, ge=1, le=86_400)

    # `smsgate worker` serves /healthz, /readyz and its own /metrics on this port of
    # SMSGATE_HOST (0 = not at all).
    worker_port: int = Field(default=0, ge=0, le=65535)

    # --- Catalog sync, pricing and provider health ------------------------------------
    # Every enabled provider's catalog is pulled this often (and at start, and by
    # `smsgate providers sync`). 0 turns the periodic job off.
    catalog_sync_seconds: float = Field(default=600.0, ge=0)
    # Default pricing rule; a provider's own rule (`smsgate providers pricing`) wins.
    pricing_markup_percent: Decimal = Field(default=Decimal("20"), ge=0, le=1000)
    pricing_fixed_fee: int = Field(default=0, ge=0)
    pricing_round_to: int = Field(default=100, ge=1)
    # Circuit breaker, per provider and process: open after this many transient failures
    # within the window, try one call again after the cooldown.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_window_seconds: float = Field(default=60.0, gt=0)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    # Our account at the provider is out of money, or our key is refused: a long pause.
    breaker_funds_cooldown_seconds: float = Field(default=900.0, gt=0)
    # A paused provider is probed with a cheap read (balance) this often and resumes when it
    # answers (for funds: when the balance covers its cheapest offer); each process also
    # re-reads the pauses other processes recorded in provider_health this often.
    breaker_probe_seconds: float = Field(default=10.0, gt=0)
    # Calls in flight and calls per second to one provider from one process (0 = no cap);
    # the sandbox is never capped. A 429 from upstream pauses the provider for Retry-After.
    upstream_max_concurrency: int = Field(default=32, ge=0)
    upstream_max_rps: float = Field(default=0.0, ge=0)
    # A call waits at most this long for a free slot before failing over.
    upstream_queue_seconds: float = Field(default=5.0, gt=0)
    # Per-provider caps instead of the two above, as JSON:
    # {"otpget": {"concurrency": 8, "rps": 5}}; a part left out takes the default.
    upstream_caps: dict[str, UpstreamCaps] = Field(default_factory=dict)

    # --- Upstream providers: what they all share (their own blocks: app/providers) ---
    upstream_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    upstream_read_timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    # Extra attempts for read-only upstream calls (status, balance, catalog); never purchases.
    upstream_read_retries: int = Field(default=2, ge=0, le=5)

    # --- Orders and the poller ----------------------------------------------------------
    # Run the poller inside `smsgate serve` (off when a separate `smsgate worker` runs).
    run_workers: bool = True
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    poll_max_backoff_seconds: float = Field(default=60.0, gt=0)
    poll_batch_size: int = Field(default=500, ge=1, le=10_000)
    poll_concurrency: int = Field(default=64, ge=1, le=1_000)
    poll_lease_seconds: float = Field(default=30.0, gt=0)
    # A PENDING order older than this is assumed orphaned by a crash and reconciled.
    reconcile_after_seconds: float = Field(default=30.0, gt=0)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    # Numbers of one create request bought at the same time (quantity up to 100).
    purchase_concurrency: int = Field(default=8, ge=1, le=100)
    # Seconds a product's offers are cached per process on the create path (0 = off).
    # A price or stock change reaches creates within this time; a sold-out tier is
    # caught by the upstream's refusal and the next candidate is tried.
    offer_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # best_success routing looks at this many hours of orders per tier.
    success_window_hours: int = Field(default=24, ge=1)

    # --- Webhooks -------------------------------------------------------------------------
    # The dispatcher runs inside `smsgate serve` with the poller (run_workers) and in
    # `smsgate worker`. Allow http and private/loopback receivers: development and tests only.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # After this many failed deliveries in a row an account's delivery is disabled.
    webhook_max_failures: int = Field(default=10, ge=1, le=100)
    # Retry n waits min(max, base * 3^(n-1)) seconds, ±20 % jitter: with the defaults the
    # ten attempts before auto-disable span about 42 hours.
    webhook_retry_base_seconds: float = Field(default=60.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=43_200.0, gt=0)
    # Accounts (and replays) claimed per round, deliveries in flight, and how long a claim
    # lasts (renewed after every event; a killed dispatcher's accounts wait this long).
    webhook_batch_size: int = Field(default=100, ge=1, le=10_000)
    webhook_concurrency: int = Field(default=32, ge=1, le=1_000)
    webhook_lease_seconds: float = Field(default=30.0, gt=0)

    @field_validator("providers", mode="before")
    @classmethod
    def _split_providers(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list):
            codes = [str(code).strip().lower() for code in value]
            # Which codes exist is the registry's to say (checked at start).
            return list(dict.fromkeys(codes))
        return value

    @property
    def demo_enabled(self) -> bool:
        if self.bootstrap_demo is None:
            return self.database_url is None
        return self.bootstrap_demo

    @property
    def demo_token_file(self) -> Path:
        return self.data_dir.expanduser().resolve() / "demo-token.txt"

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir.expanduser().resolve() / "postgres"


@lru_cache
def get_settings() -> Settings:
    return Settings()
