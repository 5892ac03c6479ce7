"""The fault suite's workload: N deals (some updated later) and M user events, sent at a steady pace
by an idempotent acks=all producer while a fault happens; what the broker acknowledged is recorded
(record, partition, offset), so the checker compares the stores with what was really accepted."""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

import orjson

from conf.clients import kafka_producer
from conf.settings import Settings
from tests import factories
from tests.activity_log import LoggedEvent, event_log

#: Partition, offset
Position = tuple[int, int]


@dataclass
class Acked:
    """What the broker acknowledged, per topic, and what it refused (never retried by the workload)."""

    deals: list[dict[str, Any]] = field(default_factory=list)
    deal_positions: set[Position] = field(default_factory=set)
    events: list[LoggedEvent] = field(default_factory=list)
    event_positions: set[Position] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def deal_payloads(count: int, updates: int, *, seed: int) -> list[dict[str, Any]]:
    """`count` deals, then new versions of `updates` of them (a later updated_at, a new price)."""
    raws = factories.deals(count, seed=seed, first_id=6_000_000)
    rng = random.Random(seed + 1)
    return raws + [factories.deal(rng, r["id"], updated_at=factories.BASE_TIME + timedelta(days=3))
                   for r in rng.sample(raws, updates)]


class Workload:
    """Sends deals and events interleaved at `rate_per_s` records/s on a thread; `acked` fills as the
    broker answers. Idempotence (conf.clients.kafka_producer) makes the producer's own retries across a
    broker restart write each record once."""

    def __init__(self, settings: Settings, deals: list[dict[str, Any]], events: list[LoggedEvent],
                 rate_per_s: float) -> None:
        self.settings, self.rate_per_s = settings, rate_per_s
        self.records: list[tuple[str, Any]] = _interleave(deals, events)
        self.acked = Acked()
        self.sent = 0
        self._thread = threading.Thread(target=self._send_all, name="fault-workload", daemon=True)

    def start(self) -> Workload:
        self._thread.start()
        return self

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the workload's producer did not finish in {timeout_s:.0f}s")

    @property
    def share_sent(self) -> float:
        return self.sent / len(self.records)

    def _send_all(self) -> None:
        # Two minutes of retries cover a broker restart; a record refused after that is reported.
        producer = kafka_producer(self.settings, delivery_timeout_ms=240_000, request_timeout_ms=30_000)
        started = time.monotonic()
        try:
            for i, (kind, record) in enumerate(self.records):
                pause = started + i / self.rate_per_s - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                self._send(producer, kind, record)
                self.sent += 1
            producer.flush()
        finally:
            producer.close()

    def _send(self, producer: Any, kind: str, record: Any) -> None:
        if kind == "deal":
            future = producer.send(self.settings.topic_deals_raw, key=str(record["id"]).encode(),
                                   value=orjson.dumps(record))
        else:
            payload = record.payload
            value = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
            key = str(payload.get("user_id")).encode() if isinstance(payload, dict) else None
            received_ms = int(record.received.replace(tzinfo=UTC).timestamp() * 1000)
            future = producer.send(self.settings.topic_user_events, key=key, value=value, timestamp_ms=received_ms)
        future.add_callback(self._on_ack, kind, record)
        future.add_errback(lambda error: self._on_refused(kind, error))

    def _on_ack(self, kind: str, record: Any, metadata: Any) -> None:
        with self.acked.lock:
            if kind == "deal":
                self.acked.deals.append(record)
                self.acked.deal_positions.add((metadata.partition, metadata.offset))
            else:
                self.acked.events.append(record)
                self.acked.event_positions.add((metadata.partition, metadata.offset))

    def _on_refused(self, kind: str, error: Exception) -> None:
        with self.acked.lock:
            self.acked.refused.append(f"{kind}: {error!r}")


def _interleave(deals: list[dict[str, Any]], events: list[LoggedEvent]) -> list[tuple[str, Any]]:
    """Deals and events mixed in a fixed order, each kind keeping its own order (updates after firsts)."""
    rng, out = random.Random(3), []
    d, e = 0, 0
    while d < len(deals) or e < len(events):
        if e >= len(events) or (d < len(deals) and rng.random() < len(deals) / (len(deals) + len(events))):
            out.append(("deal", deals[d]))
            d += 1
        else:
            out.append(("event", events[e]))
            e += 1
    return out


def user_events(count: int, *, seed: int) -> list[LoggedEvent]:
    return event_log(count, seed=seed)
