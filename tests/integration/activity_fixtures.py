"""Shared helpers of the activity integration tests: produce a timed log, snapshot the tables."""
from __future__ import annotations

from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from tests.activity_log import LoggedEvent

EPOCH_MS = 1000


def create_topic_without_time_retention(bootstrap: str, topic: str, partitions: int = 4, replicas: int = 1) -> None:
    """The log's records carry receipt times months in the past; under the broker's time retention a
    retention check could delete them before the stream reads them, so this topic keeps them."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        if topic not in admin.list_topics():
            admin.create_topics([NewTopic(topic, partitions, replicas, topic_configs={"retention.ms": "-1"})])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def produce_log(bootstrap: str, topic: str, log: list[LoggedEvent]) -> None:
    """Send each event with its receipt time as the Kafka timestamp (what the pipeline calls received_at)."""
    create_topic_without_time_retention(bootstrap, topic)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for event in log:
            payload = event.payload
            value = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
            key = str(payload.get("user_id")).encode() if isinstance(payload, dict) else None
            producer.send(topic, key=key, value=value, timestamp_ms=_epoch_ms(event))
        producer.flush()
    finally:
        producer.close()


def _epoch_ms(event: LoggedEvent) -> int:
    from datetime import UTC

    return int(event.received.replace(tzinfo=UTC).timestamp() * EPOCH_MS)


def raw_rows(log: list[LoggedEvent], topic: str = "test_user_events") -> list[tuple[Any, ...]]:
    """The same log as RAW_RECORD_SCHEMA rows (what the lake archive holds)."""
    rows = []
    for offset, event in enumerate(log):
        payload = event.payload
        value = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        key = str(payload.get("user_id")) if isinstance(payload, dict) else None
        rows.append((key, value, topic, 0, offset, event.received))
    return rows


SNAPSHOT = {
    "trending": ("trending_categories_by_bucket", "bucket_seconds, bucket_start, category_slug, parent_category, "
                                                  "views, clicks, purchases, reviews, score"),
    "sales": ("sales_by_second", "minute, second, purchases, units, revenue"),
    "cells": ("activity_by_cell", "precision, region, hour, cell, users, events, purchases"),
    "merchants": ("merchant_sales_by_category", "category_slug, day, merchant_id, hour, merchant_name, purchases, "
                                                "units, revenue"),
    "purchases": ("purchases_by_minute", "minute, occurred_at, event_id, user_id, quantity, amount"),
    "late": ("late_events_by_day", "day, received_at, event_id, occurred_at"),
    "dead": ("dead_letters_by_day", "reason"),
}


def snapshot(session: Any, keyspace: str) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every activity table, as sets of tuples (small test keyspace: full reads are fine)."""
    return {name: {tuple(row) for row in session.execute(f"SELECT {cols} FROM {keyspace}.{table}")}
            for name, (table, cols) in SNAPSHOT.items()}
