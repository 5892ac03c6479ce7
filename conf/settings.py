"""Typed, frozen settings read from the environment (prefix `EXS_`) with single-machine defaults.

Read once at an entry point (`load_settings()`), then passed down as an argument: transforms,
resolvers and clients never read `os.environ` themselves.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the platform; each field maps to the env var `EXS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="EXS_", frozen=True, extra="forbid")

    runtime_dir: Path = Field(PROJECT_ROOT / ".runtime", description="data, logs and caches of the local stack")

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
    deals_api_url: str = "http://127.0.0.1:8100/v2"
    deals_api_key: SecretStr = SecretStr("local-dev-key")

    startup_timeout_s: float = Field(180.0, gt=0)

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

    @property
    def checkpoint_root(self) -> str:
        return self.checkpoint_uri or (self.runtime_dir / "checkpoints").as_uri()


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; keyword overrides win (tests pass explicit values)."""
    return Settings(**overrides)  # type: ignore[arg-type]
