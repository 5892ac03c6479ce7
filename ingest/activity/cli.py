"""`exstreamly activity`: simulated users interacting with live deals, as JSON on `user_events`.

    exstreamly activity --rate 50            # 50 events/s until Ctrl-C
    exstreamly activity --rate 200 --seconds 60 --bad-share 0.01
"""
from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from conf.settings import Settings, load_settings
from ingest.activity.behaviour import ActivityModel, corrupt
from ingest.activity.catalog import LiveCatalog
from ingest.activity.population import make_users

log = logging.getLogger(__name__)
TICK_S = 0.05
REPORT_EVERY_S = 10.0
WAIT_FOR_DEALS_S = 2.0


def encode(event: dict[str, Any] | str) -> tuple[bytes | None, bytes]:
    """(key, value): keyed by user id, so one user's events stay in order in one partition."""
    if isinstance(event, str):
        return None, event.encode()
    user = event.get("user_id")
    return (None if user is None else str(user).encode()), orjson.dumps(event)


def _on_send_error(exc: BaseException) -> None:
    log.error("user event not delivered: %s", exc, exc_info=exc)


def run_activity(settings: Settings, *, rate: float, seconds: float | None, bad_share: float,
                 stop: threading.Event) -> Counter[str]:
    """Produce events at `rate`/s until `stop` is set or `seconds` have passed; returns counts by type."""
    from conf.clients import cassandra_cluster, ensure_topics
    from ingest.kafka_io import make_producer

    cluster = cassandra_cluster(settings)
    producer = None
    try:
        catalog = LiveCatalog(cluster.connect(), settings)
        deals = _wait_for_deals(catalog, stop)
        model = ActivityModel(make_users(settings.activity_users, settings.activity_seed), deals,
                              seed=settings.activity_seed,
                              unverified_review_share=settings.activity_unverified_review_share)
        ensure_topics(settings, {settings.topic_user_events: settings.activity_user_events_partitions})
        producer = make_producer(settings, client_id="exstreamly-activity", linger_ms=5)
        return _pace(model, catalog, producer, settings, rate=rate, seconds=seconds, bad_share=bad_share, stop=stop)
    finally:
        if producer is not None:
            producer.flush()
            producer.close()
        cluster.shutdown()


def _wait_for_deals(catalog: LiveCatalog, stop: threading.Event) -> list[Any]:
    while not stop.is_set():
        deals = catalog.read()
        if deals:
            return deals
        log.info("no live deals in Cassandra yet (is the crawler running?); waiting")
        stop.wait(WAIT_FOR_DEALS_S)
    return []


def _pace(model: ActivityModel, catalog: LiveCatalog, producer: Any, settings: Settings, *, rate: float,
          seconds: float | None, bad_share: float, stop: threading.Event) -> Counter[str]:
    rng, counts = random.Random(settings.activity_seed + 1), Counter[str]()
    started = last_refresh = last_report = time.monotonic()
    while not stop.is_set() and (seconds is None or time.monotonic() - started < seconds):
        now_mono = time.monotonic()
        due = int(rate * (now_mono - started)) - sum(counts.values())
        for event in model.next_events(datetime.now(UTC), max(due, 0)):
            payload = corrupt(event, rng) if rng.random() < bad_share else event
            counts["bad" if payload is not event else event["event_type"]] += 1
            key, value = encode(payload)
            producer.send(settings.topic_user_events, key=key, value=value).add_errback(_on_send_error)
        if now_mono - last_refresh >= settings.activity_deals_refresh_s:
            fresh = catalog.read()
            if fresh:  # an empty read (Cassandra busy, catalog churn) keeps the deals we have
                model.set_deals(fresh)
            last_refresh = now_mono
        if now_mono - last_report >= REPORT_EVERY_S:
            log.info("sent %d events (%s)", sum(counts.values()), dict(counts))
            last_report = now_mono
        stop.wait(TICK_S)
    return counts


@click.command("activity")
@click.option("--rate", type=float, default=None, help="Events per second [settings: activity_rate_per_s].")
@click.option("--users", type=int, default=None, help="Simulated users [settings: activity_users].")
@click.option("--seed", type=int, default=None, help="Users and event ids [settings: activity_seed].")
@click.option("--seconds", type=float, default=None, help="Stop after this long (default: until Ctrl-C).")
@click.option("--bad-share", type=float, default=0.0, show_default=True,
              help="Share of events sent broken (dead-letter drill).")
def activity(rate: float | None, users: int | None, seed: int | None, seconds: float | None,
             bad_share: float) -> None:
    """Simulate users viewing, clicking, buying and reviewing live deals; send the events to Kafka."""
    overrides = {k: v for k, v in {"activity_users": users, "activity_seed": seed}.items() if v is not None}
    settings = load_settings(**overrides)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    rate = rate or settings.activity_rate_per_s
    click.echo(f"activity: {settings.activity_users} users, {rate:g} events/s -> topic {settings.topic_user_events}")
    counts = run_activity(settings, rate=rate, seconds=seconds, bad_share=bad_share, stop=stop)
    click.echo(f"sent {sum(counts.values())} events: {dict(counts)}")
