"""Produce raw payloads to a real Kafka topic for tests (acks=all, flushed before returning)."""
from __future__ import annotations

from typing import Any

import orjson
from kafka import KafkaProducer


def produce(bootstrap: str, topic: str, payloads: list[Any]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for payload in payloads:
            key = str(payload["id"]).encode() if isinstance(payload, dict) and "id" in payload else None
            if isinstance(payload, dict):
                value = orjson.dumps(payload)
            else:
                value = None if payload is None else str(payload).encode()
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()
