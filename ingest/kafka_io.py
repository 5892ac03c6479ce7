"""Kafka plumbing for ingestion: topic creation, the idempotent producer, the fetchers' consumer.

The deal record is the raw `deal` object exactly as the API returned it, serialized with orjson and
keyed by deal id, so every version of a deal lands in one partition in order.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, NoBrokersAvailable, TopicAlreadyExistsError

from conf import Settings
from ingest.errors import PublishError

log = logging.getLogger(__name__)


def deal_record(deal: dict[str, Any]) -> tuple[bytes, bytes]:
    """(key, value) for `deals_raw`: the deal id, and the deal object untouched."""
    return str(deal["id"]).encode(), orjson.dumps(deal)


def ensure_topics(settings: Settings, partitions: dict[str, int]) -> None:
    """Create the topics that do not exist yet (replication 1 on the single local broker)."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="exstreamly-ingest-admin")
    except NoBrokersAvailable as exc:
        raise PublishError(_unreachable(settings)) from exc
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in partitions.items() if name not in existing]
        if missing:
            admin.create_topics(missing)
            log.info("created topics %s", ", ".join(t.name for t in missing))
    except TopicAlreadyExistsError:
        pass  # created concurrently by another process: fine
    finally:
        admin.close()


def ingest_topics(settings: Settings) -> dict[str, int]:
    return {
        settings.topic_deal_pages: settings.deal_pages_partitions,
        settings.topic_deals_raw: settings.deals_raw_partitions,
    }


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """acks=all + idempotence: a retried batch is never written twice; linger batches small records."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": "exstreamly-ingest",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.producer_linger_ms,
        "batch_size": 256 * 1024,
        "delivery_timeout_ms": 120_000,
    } | overrides
    return _connect(KafkaProducer, config, settings, "producer")


def make_consumer(settings: Settings, **overrides: Any) -> KafkaConsumer:
    """Manual commits only: a work message is committed after all its deals are acknowledged."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": "exstreamly-fetcher",
        "group_id": settings.fetcher_group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 2_000,
        "max_poll_interval_ms": 300_000,
        # a paused-then-resumed partition needs a fresh fetch; a long broker wait there idles every thread
        "fetch_max_wait_ms": 50,
    } | overrides
    return _connect(KafkaConsumer, config, settings, "consumer")


def _connect(client_class: Any, config: dict[str, Any], settings: Settings, what: str) -> Any:
    """Build a Kafka client; an unreachable or refusing broker becomes one clear `PublishError`."""
    try:
        return client_class(**config)
    except NoBrokersAvailable as exc:
        raise PublishError(_unreachable(settings)) from exc
    except KafkaError as exc:
        raise PublishError(f"cannot create a Kafka {what} for {settings.kafka_bootstrap}: {exc}") from exc


def _unreachable(settings: Settings) -> str:
    return f"cannot reach Kafka at {settings.kafka_bootstrap}; is the stack up? (`exstreamly stack up`)"


def delete_topics(settings: Settings, names: list[str]) -> None:
    """Drop topics (tests and benchmarks clean up after themselves); missing ones are ignored."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="exstreamly-ingest-admin")
    try:
        existing = set(admin.list_topics())
        doomed = [name for name in names if name in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
