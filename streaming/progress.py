"""How far each streaming query has got, read from outside: its checkpoint's newest committed offsets
against the topic's end offsets. Used by operators' tooling (the soak, the fault suite) without
touching the running application.

A Structured Streaming checkpoint writes `offsets/<batch>` (the planned range) before a micro-batch and
`commits/<batch>` after its sink finished, so the offsets of the newest committed batch are what the
query has durably processed.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson

from conf.clients import kafka_consumer
from conf.settings import Settings

#: topic -> partition -> next offset to read
Offsets = dict[str, dict[int, int]]


def committed_offsets(checkpoint: Path) -> Offsets:
    """The offsets the query's newest committed micro-batch ended at (empty before its first commit)."""
    batch = newest_batch(f.name for f in (checkpoint / "commits").glob("*"))
    return {} if batch is None else batch_offsets((checkpoint / "offsets" / str(batch)).read_text())


def newest_batch(commit_file_names: Iterable[str]) -> int | None:
    """The newest committed micro-batch, from the names in `commits/` (Hadoop's `.crc` files aside)."""
    return max((int(name) for name in commit_file_names if name.isdigit()), default=None)


def batch_offsets(offset_log_text: str) -> Offsets:
    """The Kafka offsets one `offsets/<batch>` file records."""
    lines = offset_log_text.splitlines()
    offsets: Offsets = {}
    for line in lines[2:]:  # "v1", the batch's metadata, then one line per source
        for topic, partitions in orjson.loads(line).items():
            offsets[topic] = {int(p): int(o) for p, o in partitions.items()}
    return offsets


def end_offsets(settings: Settings, topics: list[str]) -> Offsets:
    """Each partition's end offset (the offset the next record will get)."""
    from kafka import TopicPartition

    consumer = kafka_consumer(settings, enable_auto_commit=False)
    try:
        wanted = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = consumer.end_offsets(wanted) if wanted else {}
    finally:
        consumer.close()
    found: Offsets = {}
    for tp, offset in ends.items():
        found.setdefault(tp.topic, {})[tp.partition] = offset
    return found


def records_behind(committed: Offsets, ends: Offsets) -> int:
    """Records past the committed offsets, over every partition of the topics the query reads."""
    return sum(max(0, end - committed.get(topic, {}).get(partition, 0))
               for topic in committed for partition, end in ends.get(topic, {}).items())


def kafka_lag(settings: Settings, checkpoints: list[Path]) -> dict[str, int]:
    """Records each query (named by its checkpoint directory) has yet to process."""
    committed = {c.name: committed_offsets(c) for c in checkpoints}
    ends = end_offsets(settings, sorted({t for offsets in committed.values() for t in offsets}))
    return {name: records_behind(offsets, ends) for name, offsets in committed.items() if offsets}
