"""Kafka plumbing for ingestion: the deal record, the ingest topics, the fetchers' producer and consumer.

The deal record is the raw `deal` object as the API returned it, less the deals-API key (see
`ingest.redact`), serialized with orjson and keyed by deal id, so every version of a deal lands in
one partition in order. The clients themselves come from `conf.clients`, the one home of client
factories.
"""

from __future__ import annotations

from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from conf import Settings
from conf.clients import kafka_consumer, kafka_producer
from ingest.redact import without_secret


def deal_record(deal: dict[str, Any], *, secret: str) -> tuple[bytes, bytes]:
    """(key, value) for `deals_raw`: the deal id, and the deal object as the API sent it minus the
    deals-API key (`secret`), which the API writes into `url` and `image_url`."""
    return str(deal["id"]).encode(), orjson.dumps(without_secret(deal, secret))


def ingest_topics(settings: Settings) -> dict[str, int]:
    return {
        settings.topic_deal_pages: settings.deal_pages_partitions,
        settings.topic_deals_raw: settings.deals_raw_partitions,
    }


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """The idempotent acks=all producer of `conf.clients`, named for ingestion."""
    return kafka_producer(settings, **({"client_id": "exstreamly-ingest"} | overrides))


def make_consumer(settings: Settings, **overrides: Any) -> KafkaConsumer:
    """Manual commits only: a work message is committed after all its deals are acknowledged."""
    config: dict[str, Any] = {
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
    return kafka_consumer(settings, **config)
