"""Reading what landed in a topic, for audits, tests and benchmarks: every record, start to end."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from conf import Settings


@dataclass(frozen=True)
class Landed:
    """Deal records read back from `deals_raw`."""

    records: int
    by_id: dict[int, list[dict[str, Any]]]  # every version captured, in partition order
    bad_keys: int  # records whose key is not the deal's id

    @property
    def duplicates(self) -> int:
        """Records beyond one per deal id."""
        return self.records - len(self.by_id)


def read_topic(settings: Settings, topic: str, timeout_s: float = 60.0) -> list[tuple[bytes | None, bytes]]:
    """All (key, value) pairs from offset 0 to the end offsets taken when called."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        out: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(out)} records of {topic} in {timeout_s} s, not all")
            for records in consumer.poll(timeout_ms=500, max_records=50_000).values():
                out.extend((r.key, r.value) for r in records if r.offset < ends[TopicPartition(topic, r.partition)])
        return out
    finally:
        consumer.close()


def read_deals(settings: Settings, topic: str | None = None) -> Landed:
    """Parse `deals_raw` back into deal objects grouped by id."""
    pairs = read_topic(settings, topic or settings.topic_deals_raw)
    by_id: dict[int, list[dict[str, Any]]] = {}
    bad_keys = 0
    for key, value in pairs:
        deal = orjson.loads(value)
        bad_keys += key != str(deal["id"]).encode()
        by_id.setdefault(deal["id"], []).append(deal)
    return Landed(len(pairs), by_id, bad_keys)
