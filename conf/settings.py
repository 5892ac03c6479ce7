"""Typed, frozen settings read from the environment (prefix `EXS_`) with single-machine defaults.

Read once at an entry point (`load_settings()`), then passed down as an argument: transforms,
resolvers and clients never read `os.environ` themselves.
"""
from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Signs tokens on a developer's machine only; the production profile refuses to start with it.
DEV_TOKEN_SECRET = "exstreamly-local-development-token-key"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    """Every knob of the platform; each field maps to the env var `EXS_<FIELD>`."""

    # hide_input_in_errors: a validation error must not print the secrets among the inputs
    model_config = SettingsConfigDict(env_prefix="EXS_", frozen=True, extra="forbid", hide_input_in_errors=True)

    runtime_dir: Path = Field(PROJECT_ROOT / ".runtime", description="data, logs and caches of the local stack")
    maven_repository_url: str = Field(
        "https://repo1.maven.org/maven2/", pattern=r"^(https?|file)://",
        description="Maven-layout repository (Central or a mirror) that Spark's Ivy resolves connectors from")

    kafka_host: str = "127.0.0.1"
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = "512m"
    kafka_bootstrap_servers: str = Field(
        "", description="comma-separated brokers of a Kafka cluster; default kafka_host:kafka_port")
    kafka_replication_factor: int = Field(1, ge=1, le=16, description="replicas of each topic the platform creates")

    cassandra_host: str = Field("127.0.0.1", description="a Cassandra node, or comma-separated nodes of a ring")
    cassandra_port: int = Field(9042, ge=1, le=65535)
    cassandra_storage_port: int = Field(7000, ge=1, le=65535)
    cassandra_heap: str = "1G"
    keyspace: str = Field("exstreamly", pattern=r"^[a-z][a-z0-9_]{0,47}$")
    replication: str = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    cassandra_write_consistency: Literal["ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL"] = Field(
        "LOCAL_ONE", description="consistency of the Spark jobs' Cassandra writes, and of the sinks' driver-side "
                     "reads and writes (LOCAL_QUORUM on a ring)")

    topic_deals_raw: str = "deals_raw"
    topic_deal_pages: str = "deal_pages"
    topic_user_events: str = "user_events"

    lake_uri: str = Field("", description="data lake root (hdfs://… or file://…); default under runtime_dir")
    checkpoint_uri: str = Field("", description="streaming checkpoints root; default under runtime_dir")
    spark_master: str = "local[*]"
    spark_yarn_archive: str = Field(
        "", description="hdfs:// URI of a zip of Spark's jars (spark.yarn.archive): YARN submits then upload "
                        "nothing; empty: each submit uploads pyspark's jars")
    max_offsets_per_trigger: int = Field(20_000, ge=1)
    trigger_seconds: float = Field(0.5, gt=0, description="trigger of the deals and alerts queries")
    activity_trigger_seconds: float = Field(
        1.0, gt=0, description="trigger of the two activity queries: their micro-batches take about a second "
                               "on two busy cores whatever their size, so a shorter one runs them back to back")
    archive_trigger_seconds: float = Field(
        60.0, gt=0, description="trigger of the two archive queries (Kafka -> lake): each micro-batch writes a "
                                "Parquet file per partition, whatever its size; the batch layer reads the lake "
                                "hours later, so a longer trigger costs no freshness anyone sees (README)")
    kafka_fail_on_data_loss: bool = Field(
        True, description="stop a streaming query when Kafka no longer holds records it has not processed "
                          "(streaming/data_loss.py); false skips them without notice")
    score_trigger_seconds: float = Field(
        5.0, gt=0, description="trigger of the streaming score query: scores follow the deal tables by up to "
                               "this much, so the deal tables' micro-batches stay small and quick")
    score_max_offsets_per_trigger: int = Field(
        50_000, ge=1, description="records per micro-batch of the score query: a score batch costs about ten "
                                   "Spark jobs whatever its size, so a backlog is scored in few, large batches")
    sink_retry_s: float = Field(
        600.0, ge=0, le=86_400, description="how long a micro-batch is retried while Cassandra is unreachable "
                                            "(a restart, a pause) before its query stops; 0 stops at once")
    stream_stall_exit_s: float = Field(
        900.0, ge=0, le=86_400, description="a job whose query spends longer than this in one micro-batch exits "
                                            "(status 75) so that its supervisor restarts it from its checkpoints "
                                            "(streaming/watchdog.py); 0: never")
    sink_driver_max_keys: int = Field(
        2000, ge=0, le=1_000_000, description="up to this many keys (or window rows), a sink reads stored rows "
                                              "and holds a micro-batch on the Spark driver instead of in Spark jobs")
    sink_driver_max_rows: int = Field(
        1000, ge=0, le=1_000_000, description="up to this many records, a deals micro-batch runs in the small "
                                              "session and is written from the Spark driver (pipeline/driver_sink.py), "
                                              "above through the connector; 0: always the connector (README)")

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_workers: int = Field(
        2, ge=1, le=64, description="uvicorn worker processes of `exstreamly api` (one Python process uses one core "
                                    "at most); each keeps its own answer cache and subscription cap")
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
    api_response_cache_s: float = Field(
        1.0, ge=0, le=60, description="anonymous query answers are reused for this long (0: off); the "
                                      "staleness this adds to any answer (graphql_api/response_cache.py)")
    api_cql_timeout_s: float = Field(2.0, gt=0, le=60, description="timeout of one CQL request from the API")
    # -- API security (issue 11) -------------------------------------------------------------------
    api_max_cost: int = Field(
        1000, ge=10, le=1_000_000,
        description="budget of one request in CQL reads, estimated from the document before execution")
    api_max_body_bytes: int = Field(65_536, ge=1024, le=16 * 1024 * 1024,
                                    description="largest request body (HTTP) or websocket message; more is 413")
    api_max_near_cells: int = Field(
        120, ge=9, le=4096, description="geohash-4 cells a `near` circle may cover (more near the poles: refused)")
    api_category_count_ttl_s: float = Field(
        30.0, gt=0, le=3600, description="how long the per-category deal counts are cached (one recount per TTL)")
    api_token_secret: SecretStr = Field(
        SecretStr(DEV_TOKEN_SECRET), min_length=32,
        description="HS256 key signing bearer tokens; production refuses the development default")
    api_token_ttl_s: int = Field(86_400, ge=60, le=90 * 86_400, description="lifetime of a new bearer token")
    api_public_window_s: int = Field(
        86_400, ge=60, le=3650 * 86_400, description="how far back public activity reads (`at`) may look")
    api_ws_init_timeout_s: float = Field(3.0, gt=0, le=60, description="seconds a websocket has for connection_init")
    api_ws_max_subscriptions: int = Field(5, ge=1, le=100, description="operations in flight per websocket")
    api_ws_max_server_subscriptions: int = Field(
        200, ge=1, le=100_000, description="subscriptions in flight on this API process, all connections together")
    api_ws_max_lifetime_s: float = Field(3600.0, gt=0, le=86_400, description="a websocket is closed after this long")
    api_ws_idle_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="a websocket with no operation in flight is closed after this long")
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
    plan_listing_deals: int = Field(
        500, ge=0, le=1_000_000,
        description="most deals in one listing of small categories crawled together (0: one per category)")
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
    activity_public_ttl_s: int = Field(
        7 * 86_400, ge=3600, le=3650 * 86_400,
        description="default TTL of the public activity tables (feed, trends, sales, map, merchant sales)")
    # -- reviews (issue 18) -------------------------------------------------------------------------
    activity_reviews: bool = Field(
        True, description="the activity events query also keeps reviews and ratings (off: bench baseline)")
    activity_unverified_review_share: float = Field(
        0.1, ge=0, lt=1, description="share of simulated reviews written by users who never bought the deal")
    review_driver_max_rows: int = Field(
        5000, ge=0, le=1_000_000,
        description="up to this many reviews and purchases, a batch's reviews are judged and written from the "
                    "Spark driver; more go through Spark joins and the connector (pipeline/review_sink.py)")

    score_min_other_sellers: int = Field(
        2, ge=1, le=50, description="other sellers of the same item needed before their median is a street price")
    score_inflation_ratio: float = Field(
        1.25, gt=1, le=10, description="a claimed value above this multiple of the street price is inflated")
    score_verdict_tolerance: float = Field(
        0.05, ge=0, le=1, description="how far (a fraction) the advertised discount may exceed the verified one "
                                      "and still count as genuine")
    score_perpetual_days: int = Field(
        30, ge=1, le=365, description="days on sale at no higher price after which a sale is perpetual")
    score_ends_soon_hours: float = Field(48.0, gt=0, le=720, description="a deal expiring within this is ENDS_SOON")
    score_sell_out_units_per_day: float = Field(
        100.0, gt=0, description="units sold per day (over the last week) that flag LIKELY_TO_SELL_OUT")

    # -- recommendations (issue 13) -------------------------------------------------------------------
    recommend_top_n: int = Field(50, ge=1, le=500, description="recommendations stored per user by the batch job")
    recommend_per_merchant: int = Field(2, ge=1, le=100, description="most recommendations of one merchant per user")
    recommend_candidates: int = Field(
        200, ge=10, le=5000, description="deals scored per user: ALS's best plus the popular and new deals of "
                                         "the user's area")
    recommend_test_share: float = Field(
        0.2, gt=0, lt=1, description="newest share of each user's history held out (validation in the job, test "
                                     "in bench.recommend)")
    recommend_validation_users: int = Field(
        3000, ge=100, le=10_000_000, description="users (a seeded sample) each grid point is scored on: the grid's "
                                                  "cost grows with it, its choice barely does")
    recommend_half_life_days: float = Field(7.0, gt=0, le=3650, description="half-life of an interaction's weight "
                                                                            "in popularity")
    recommend_distance_km: float = Field(
        25.0, gt=0, le=5000, description="distance penalty 1 / (1 + (km / this)^2) from the user's home")
    recommend_online_penalty: float = Field(
        0.3, ge=0, le=1, description="distance penalty of an online deal (redeemable anywhere)")
    recommend_als_weight: float = Field(
        0.8, ge=0, le=1, description="blend = (w x ALS + (1 - w) x area popularity) x distance penalty")
    recommend_new_deal_prior: float = Field(
        0.1, ge=0, le=1, description="area popularity given to a deal nobody interacted with yet (cold start)")
    recommend_taste_weights: tuple[float, ...] = Field(
        (0.0, 0.5, 0.9), min_length=1, description="weights of the user's category taste in the blend tried on the "
                                                   "validation split (JSON list; 0 = ALS and popularity alone)")
    recommend_exploration: float = Field(
        0.15, ge=0, le=2, description="spread of each user's list over near-best deals: ranked by score x "
                                      "exp(this x a per-user-and-deal Gumbel draw); 0 = by score alone")
    recommend_top_categories: int = Field(6, ge=1, le=50, description="favourite categories per user the taste uses")
    recommend_category_prior: float = Field(
        5.0, ge=0, le=1000, description="pseudo-strength pulling a user's category shares toward everyone's")
    recommend_als_ranks: tuple[int, ...] = Field((8, 16), min_length=1, description="ALS ranks tried (JSON list)")
    recommend_als_reg_params: tuple[float, ...] = Field(
        (0.05, 0.2), min_length=1, description="ALS regularisation values tried (JSON list)")
    recommend_als_alpha: float = Field(10.0, gt=0, le=1000, description="ALS implicit confidence 1 + alpha x weight")
    recommend_als_iterations: int = Field(10, ge=1, le=100, description="ALS alternating iterations")
    recommend_fallback_radius_km: float = Field(
        25.0, gt=0, le=50, description="radius of the nearby deals the API adds when the stored list runs short")
    recommend_ttl_s: int = Field(7 * 86_400, ge=3600, le=365 * 86_400,
                                 description="how long stored recommendations and area popularity live")
    # -- interest alerts (issue 14) ---------------------------------------------------------------
    topic_deal_alerts: str = Field("deal_alerts", description="alerts as they are decided, keyed by user id")
    deal_alerts_partitions: int = Field(4, ge=1, le=1024)
    alert_max_interests_per_user: int = Field(20, ge=1, le=1000, description="saved interests one user may keep")
    alert_score_wait_s: float = Field(
        8.0, ge=0, le=60, description="how long the matcher waits for a deal version's score (minVerifiedDiscount) "
                                      "before treating it as not matching; above EXS_SCORE_TRIGGER_SECONDS")
    alert_poll_s: float = Field(0.2, gt=0, le=10, description="how often `dealAlerts` reads the user's new alerts")
    webhook_group: str = Field("alert-webhooks", min_length=1, description="consumer group of the webhook worker")
    webhook_max_attempts: int = Field(5, ge=1, le=20, description="POSTs of one webhook notice, the first included")
    webhook_backoff_s: float = Field(0.5, gt=0, le=60, description="base of the webhook's exponential backoff")
    webhook_timeout_s: float = Field(5.0, gt=0, le=60, description="timeout of one webhook POST")
    alert_lookback_s: float = Field(
        600.0, ge=0, le=3600, description="`dealAlerts` re-reads this far back for alerts written late: an alert is "
                                          "timed by its deal's Kafka record and written after the pipeline's lag")

    @model_validator(mode="before")
    @classmethod
    def _public_host_means_production(cls, data: Any) -> Any:
        """Binding a non-loopback interface without an explicit profile serves the production profile."""
        if isinstance(data, dict) and "api_profile" not in data:
            host = str(data.get("api_host", "127.0.0.1"))
            if host not in LOOPBACK_HOSTS and not host.startswith("127."):
                return {**data, "api_profile": "production"}
        return data

    @model_validator(mode="after")
    def _production_needs_a_token_secret(self) -> Settings:
        if self.api_profile == "production" and self.api_token_secret.get_secret_value() == DEV_TOKEN_SECRET:
            raise ValueError("the production profile needs EXS_API_TOKEN_SECRET (at least 32 characters), "
                             "not the development default")
        return self

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
        return self.kafka_bootstrap_servers or f"{self.kafka_host}:{self.kafka_port}"

    @property
    def cassandra_hosts(self) -> list[str]:
        return [host.strip() for host in self.cassandra_host.split(",") if host.strip()]

    @property
    def lake_root(self) -> str:
        return self.lake_uri or (self.runtime_dir / "lake").as_uri()

    def model_dir(self, name: str) -> str:
        """Where a trained model lives in the lake (HDFS-compatible: saved and loaded by Spark)."""
        return f"{self.lake_root.rstrip('/')}/models/{name}"

    def lake_dir(self, topic: str) -> str:
        """Where the archive of one topic lives in the lake (streaming writes it, batch reads it)."""
        return f"{self.lake_root.rstrip('/')}/{topic}"

    @property
    def checkpoint_root(self) -> str:
        return self.checkpoint_uri or (self.runtime_dir / "checkpoints").as_uri()


#: `EXS_` names read outside `Settings`: the JDK of the stack scripts and `./dev`, and the test suite's own
#: switches. Any other `EXS_` name is no setting (`unknown_setting_names`).
EXS_NAMES_OUTSIDE_SETTINGS = frozenset({
    "EXS_JAVA_HOME", "EXS_FAULTS", "EXS_CLUSTER", "EXS_TEST_ALERT_KILLS", "EXS_TEST_KEYSPACE_SUFFIX",
    "EXS_SCREENSHOTS_DIR", "EXS_CHROMIUM", "EXS_CHROMEDRIVER"})


class UnknownSettingError(ValueError):
    """An `EXS_` variable that names no setting: a misspelt one, or one a newer version retired."""


def _setting_env_names() -> list[str]:
    return [f"EXS_{name.upper()}" for name in Settings.model_fields]


def unknown_setting_names(environ: Mapping[str, str]) -> list[str]:
    """The `EXS_` names of `environ` that are neither a setting nor read elsewhere (`EXS_NAMES_OUTSIDE_SETTINGS`).
    pydantic-settings matches names without regard to case and passes over the others: `extra="forbid"`
    covers keyword arguments, not the environment, so a misspelt setting would be silently ignored."""
    known = set(_setting_env_names()) | EXS_NAMES_OUTSIDE_SETTINGS
    return sorted(name for name in environ if name.upper().startswith("EXS_") and name.upper() not in known)


def _unknown_setting_message(names: list[str]) -> str:
    known = _setting_env_names()

    def named(name: str) -> str:
        close = difflib.get_close_matches(name.upper(), known, n=1)
        return f"{name} (did you mean {close[0]}?)" if close else name

    return (f"no setting is named {', '.join(named(name) for name in names)}: unset it or correct its spelling "
            "(every setting is a field of conf/settings.py; the README's Settings section lists the most used)")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; keyword overrides win (tests pass explicit values). An `EXS_`
    variable that names no setting is refused (`UnknownSettingError`), as an invalid value is.

    Overrides are `Any` because pydantic validates and coerces each one against its field."""
    unknown = unknown_setting_names(os.environ)
    if unknown:
        raise UnknownSettingError(_unknown_setting_message(unknown))
    return Settings(**overrides)
