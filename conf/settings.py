"""Typed, frozen settings read from the environment (prefix `EXS_`) with single-machine defaults.

Read once at an entry point (`load_settings()`), then passed down as an argument: transforms,
resolvers and clients never read `os.environ` themselves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the platform; each field maps to the env var `EXS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="EXS_", frozen=True, extra="forbid")

    runtime_dir: Path = Field(PROJECT_ROOT / ".runtime", description="data, logs and caches of the local stack")
    maven_repository_url: str = Field(
        "https://repo1.maven.org/maven2/", pattern=r"^(https?|file)://",
        description="Maven-layout repository (Central or a mirror) that Spark's Ivy resolves connectors from")

    kafka_host: str = "127.0.0.1"
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = "512m"

    cassandra_host: str = "127.0.0.1"
    cassandra_port: int = Field(9042, ge=1, le=65535)
    cassandra_storage_port: int = Field(7000, ge=1, le=65535)
    cassandra_heap: str = "1G"
    keyspace: str = Field("exstreamly", pattern=r"^[a-z][a-z0-9_]{0,47}$")
    replication: str = "{'class': 'SimpleStrategy', 'replication_factor': 1}"

    topic_deals_raw: str = "deals_raw"
    topic_deal_pages: str = "deal_pages"
    topic_user_events: str = "user_events"

    lake_uri: str = Field("", description="data lake root (hdfs://… or file://…); default under runtime_dir")
    checkpoint_uri: str = Field("", description="streaming checkpoints root; default under runtime_dir")
    spark_master: str = "local[*]"
    max_offsets_per_trigger: int = Field(20_000, ge=1)
    trigger_seconds: float = Field(0.5, gt=0)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_profile: Literal["dev", "production"] = Field(
        "dev", description="production turns GraphiQL and introspection off"
    )
    api_cors_origins: tuple[str, ...] = Field((), description="origins allowed by CORS (JSON list in the env)")
    api_cors_credentials: bool = Field(False, description="allow cookies cross-origin; never with origin '*'")
    api_max_depth: int = Field(8, ge=2, le=50, description="deepest selection a query may nest")
    api_max_aliases: int = Field(15, ge=0, le=1000, description="aliases per document")
    api_max_tokens: int = Field(2000, ge=50, le=100_000, description="lexer tokens per document")
    api_scan_limit: int = Field(2000, ge=100, le=100_000, description="rows one search may read from Cassandra")
    api_max_radius_km: float = Field(50.0, gt=0, le=500, description="largest `near.radiusKm` accepted")
    api_cql_timeout_s: float = Field(2.0, gt=0, le=60, description="timeout of one CQL request from the API")
    deals_api_url: str = "http://127.0.0.1:8100/v2"
    deals_api_key: SecretStr = SecretStr("local-dev-key")
    deals_api_auth: Literal["query", "header"] = Field(
        "query", description="send the key as `api_key=` or as `Authorization: api_key K`"
    )
    deals_api_rate_per_s: float = Field(100.0, gt=0, le=10_000, description="client-side leaky bucket, per process")
    deals_api_timeout_s: float = Field(15.0, gt=0, le=300)
    deals_api_max_attempts: int = Field(6, ge=1, le=20, description="HTTP attempts per request, first included")
    deals_api_backoff_s: float = Field(0.25, gt=0, le=60, description="base of the full-jitter exponential backoff")
    deals_api_backoff_max_s: float = Field(20.0, gt=0, le=600, description="cap of one wait, Retry-After included")
    deals_per_page: int = Field(100, ge=1, le=100, description="the API's maximum is 100")

    fetcher_group: str = Field("deal-fetchers", min_length=1)
    fetcher_threads: int = Field(16, ge=1, le=256, description="pages in flight per fetcher process")
    fetch_work_attempts: int = Field(5, ge=1, le=50, description="re-queues of a page chunk that kept failing")
    plan_growth_margin: float = Field(0.10, ge=0, le=5, description="extra share of pages planned for growth")
    plan_extra_pages: int = Field(2, ge=0, le=1000, description="extra pages planned per category")
    pages_per_chunk: int = Field(8, ge=1, le=10_000, description="pages per work message on deal_pages")
    refresh_overlap_s: float = Field(120.0, ge=0, description="updated_after = previous snapshot minus this")
    deal_pages_partitions: int = Field(8, ge=1, le=1024)
    deals_raw_partitions: int = Field(4, ge=1, le=1024)
    producer_linger_ms: int = Field(20, ge=0, le=10_000)

    simulator_host: str = "127.0.0.1"
    simulator_port: int = Field(8100, ge=0, le=65535)
    simulator_seed: int = 2016
    simulator_deals: int = Field(20_000, ge=0, le=2_000_000)

    startup_timeout_s: float = Field(180.0, gt=0)

    activity_rate_per_s: float = Field(50.0, gt=0, le=100_000, description="events/s the activity simulator sends")
    activity_users: int = Field(5000, ge=1, le=10_000_000, description="simulated users")
    activity_seed: int = Field(2016, description="seed of the users and of the event ids")
    activity_deals_sample: int = Field(5000, ge=1, le=200_000, description="live deals read per catalog refresh")
    activity_deals_refresh_s: float = Field(30.0, gt=0, description="how often the simulator re-reads live deals")
    activity_user_events_partitions: int = Field(4, ge=1, le=1024)
    activity_allowed_lateness_s: float = Field(
        30.0, ge=0, description="events received longer than this after they happened are late: kept in "
                                "late_events_by_day, not counted in windows")
    activity_watermark_margin_s: float = Field(
        15.0, ge=0, description="Spark watermark = allowed lateness + this margin (producer clock skew)")
    activity_future_tolerance_s: float = Field(
        5.0, ge=0, description="an event stamped further than this after its receipt is a dead letter")
    activity_min_users_per_cell: int = Field(
        5, ge=2, le=10_000, description="k-anonymity floor: map cells with fewer distinct users are not served")

    @model_validator(mode="after")
    def _cors_credentials_need_origins(self) -> Settings:
        if self.api_cors_credentials and "*" in self.api_cors_origins:
            raise ValueError("EXS_API_CORS_CREDENTIALS=true cannot be combined with origin '*' in EXS_API_CORS_ORIGINS")
        return self

    @field_validator("runtime_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def lake_root(self) -> str:
        return self.lake_uri or (self.runtime_dir / "lake").as_uri()

    def lake_dir(self, topic: str) -> str:
        """Where the archive of one topic lives in the lake (streaming writes it, batch reads it)."""
        return f"{self.lake_root.rstrip('/')}/{topic}"

    @property
    def checkpoint_root(self) -> str:
        return self.checkpoint_uri or (self.runtime_dir / "checkpoints").as_uri()


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; keyword overrides win (tests pass explicit values).

    Overrides are `Any` because pydantic validates and coerces each one against its field."""
    return Settings(**overrides)
