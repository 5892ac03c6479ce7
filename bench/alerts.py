"""Interest alerts: deal produced -> alert received by a websocket subscriber, beside the deals stream's
own produce -> row latency in the same run; matching throughput with 100k interests beside the deals
stream's own maximum; correctness against an independent match; noise against the caps.

Run: `.venv/bin/python -m bench.alerts [--quick]` (starts Kafka and Cassandra when they are not running).

One local[2] Spark session (FAIR pools, as the speed layer), keyspace `exs_bench_alerts`, fresh topics:
1. latency: the deals and alerts streams running at their trigger, the API as a subprocess, one
   subscriber of `dealAlerts` (user 1); background deals flow at a steady rate, first alone for
   `LATENCY_WARM_UP_S`, then while probe deals matching user 1's interest are produced; for each
   probe: produce -> alert on the socket, and produce -> the deal's row in deals_by_id; then the
   stored alerts of every interest against tests/alert_oracle.py (missed, extra, duplicated; the
   socket's repeats counted too);
2. throughput: 100k interests filed (cells and categories of the catalog), then the same N deals
   drained with availableNow by the deals stream and by the alerts stream (its cache warmed first);
   changed deals/s each, and their ratio (goal >= 1: matching is never the bottleneck); then the
   matching alone (the sink's steps without its writes, on the same deals) against the same baseline,
   which tells matching from delivering when the ratio falls short;
3. noise: instant alerts per user-day in the throughput run against the interests' maxPerDay.
Output: a table and bench/results/alerts.json.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from bench.activity import _pct, _wait, start_api
from bench.pipeline import catalog_deals
from bench.report import LATENCY_WARM_UP_S, bench_main, remove_local_dir, table
from conf.settings import Settings, load_settings

if TYPE_CHECKING:
    from pipeline.alert_interests import InterestIndex

log = logging.getLogger(__name__)
KEYSPACE = "exs_bench_alerts"
PROBE_CATEGORY = "skydiving"
PROBE_USER, CAP = 1, 5


def file_interests(session: Any, interests: list[dict[str, Any]]) -> None:
    """Write interests as the API does (interests_by_key under their index keys, then the version)."""
    from cassandra.concurrent import execute_concurrent_with_args

    from graphql_api.repository import unset_absent
    from pipeline.alert_keys import interest_index_keys

    statement = session.prepare(f"INSERT INTO {KEYSPACE}.interests_by_key (index_key, user_id, interest_id, category, "
                                "max_price, min_discount, near_lat, near_lon, near_radius_km, keywords, delivery, "
                                "max_per_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    rows = []
    for i in interests:
        near = i.get("near") or (None, None, None)
        rows += [unset_absent((key, i["user_id"], i["interest_id"], i.get("category"), i.get("max_price"),
                               i.get("min_discount"), *near, list(i.get("keywords") or []) or None, "INSTANT",
                               i.get("max_per_day")))
                 for key in interest_index_keys(i.get("category"), i.get("near"))]
    session.default_timeout = 60  # 100k interests on a shared machine: writes may queue
    execute_concurrent_with_args(session, statement, rows, concurrency=32, raise_on_first_error=True)
    session.execute(f"UPDATE {KEYSPACE}.interest_index_version SET version = now() WHERE scope = 'all'")


def many_interests(deals: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """Mostly small circles around places deals are at (with a category or a price), some categories."""
    from pipeline.taxonomy import CHILDREN, PARENTS

    rng = random.Random(seed)
    places = [(d["merchant"]["latitude"], d["merchant"]["longitude"]) for d in deals
              if (d.get("merchant") or {}).get("latitude") not in (None, 0, 0.0)]
    made = []
    for n in range(count):
        interest: dict[str, Any] = {"user_id": 1000 + n, "interest_id": uuid.UUID(int=n + 1).hex, "max_per_day": CAP}
        if n % 10:
            lat, lon = rng.choice(places)
            interest |= {"near": (float(lat) + rng.uniform(-0.1, 0.1), float(lon) + rng.uniform(-0.1, 0.1),
                                  rng.choice((5.0, 10.0, 25.0))),
                         "category": rng.choice((*PARENTS, None)), "max_price": rng.choice((None, 50.0, 150.0))}
        else:
            interest |= {"category": rng.choice(CHILDREN), "min_discount": rng.choice((0.6, 0.75, 0.9))}
        made.append(interest)
    return made


def produce(settings: Settings, records: list[dict[str, Any]]) -> list[float]:
    """Send records (key = deal id), flushed; returns each one's send time (epoch seconds)."""
    from conf.clients import kafka_producer

    producer = kafka_producer(settings, linger_ms=0)
    sent = []
    for raw in records:
        sent.append(time.time())
        producer.send(settings.topic_deals_raw, key=str(raw["id"]).encode(), value=orjson.dumps(raw))
    producer.flush()
    producer.close()
    return sent


def subscribe(url: str, token: str, received: dict[str, list[float]], stop: threading.Event) -> None:
    """A `dealAlerts` subscriber: every alert id it receives, with the receipt times (repeats kept)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        ws.recv(timeout=10)
        query = "subscription { dealAlerts { alerts { id dealId } } }"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        while not stop.is_set():
            try:
                message = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            except ConnectionClosed:
                if stop.is_set():  # the API stopping at the end of the run closes with 1012
                    return
                raise
            for alert in ((message.get("payload") or {}).get("data") or {}).get("dealAlerts", {}).get("alerts", []):
                received.setdefault(alert["dealId"], []).append(time.time())


def watch_rows(session: Any, ids: list[int], seen: dict[int, float], stop: threading.Event) -> None:
    statement = session.prepare(f"SELECT deal_id FROM {KEYSPACE}.deals_by_id WHERE deal_id = ?")
    while not stop.is_set():
        pending = [i for i in ids if i not in seen]
        for deal_id, future in [(i, session.execute_async(statement, (i,))) for i in pending]:
            if future.result().one() is not None:
                seen[deal_id] = time.time()
        stop.wait(0.02)


def _rows_processed(query: Any) -> int:
    """Records a streaming query has processed of its topic, new in this run: the sum of its last
    batch's end offsets. (Not the input rows of its progress reports: Spark keeps the last hundred, and
    a warm-up of short micro-batches runs more than that.)"""
    progress = query.lastProgress
    if not progress:
        return 0
    total = 0
    for source in progress["sources"]:
        ends = source.get("endOffset") or {}
        for offsets in (json.loads(ends) if isinstance(ends, str) else ends).values():
            total += sum(int(offset) for offset in offsets.values())
    return total


def probe_deal(base: dict[str, Any], deal_id: int) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {**base, "id": deal_id, "category_slug": PROBE_CATEGORY, "updated_at": now, "expires_at": None}


class Run:
    def __init__(self, quick: bool) -> None:
        from conf.clients import cassandra_cluster
        from stack.cql import apply_schema
        from stack.spark_local import local_session

        self.quick, self.run_id = quick, uuid.uuid4().hex[:8]
        self.settings = load_settings(keyspace=KEYSPACE, api_response_cache_s=0.0)
        self.session = cassandra_cluster(self.settings).connect()
        apply_schema(self.session, self.settings)
        self.spark = local_session(self.settings, app="bench-alerts", **{"spark.scheduler.mode": "FAIR"})
        self.work = f"{self.settings.checkpoint_root.rstrip('/')}/bench-alerts-{self.run_id}"

    def topics(self, name: str) -> Settings:
        return self.settings.model_copy(update={"topic_deals_raw": f"bench_alerts_{name}_{self.run_id}",
                                                "topic_deal_alerts": f"bench_deal_alerts_{name}_{self.run_id}"})

    def truncate(self) -> None:
        for row in self.session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
                                        (KEYSPACE,)):
            self.session.execute(f"TRUNCATE {KEYSPACE}.{row.table_name}", timeout=120)

    def start_streams(self, settings: Settings, name: str, **kwargs: Any) -> list[Any]:
        from conf.clients import ensure_topics
        from streaming.alerts_job import start_alerts_stream
        from streaming.deals_job import start_deals_stream

        # the topic must exist before the queries start: nothing has been produced to it yet
        ensure_topics(settings, {settings.topic_deals_raw: settings.deals_raw_partitions})

        context = self.spark.sparkContext
        context.setLocalProperty("spark.scheduler.pool", "deals")
        deals = start_deals_stream(self.spark, settings, checkpoint=f"{self.work}/{name}-deals", **kwargs)
        context.setLocalProperty("spark.scheduler.pool", "alerts")
        alerts = start_alerts_stream(self.spark, settings, checkpoint=f"{self.work}/{name}-alerts", **kwargs)
        return [deals, alerts]

    def latency(self) -> dict[str, float]:
        from graphql_api.auth import create_token
        from tests import alert_oracle
        from tests.integration.api_client import free_port

        settings, catalog = self.topics("latency"), catalog_deals(6000, seed=21)
        background = [d for d in catalog if d["category_slug"] != PROBE_CATEGORY]
        probes = [probe_deal(catalog[0], 90_000_000 + i) for i in range(20 if self.quick else 200)]
        interests = [{"user_id": PROBE_USER, "interest_id": uuid.uuid4().hex, "category": PROBE_CATEGORY},
                     *many_interests(background, 1000, seed=22)]
        self.truncate()
        file_interests(self.session, interests)
        queries = self.start_streams(settings, "latency")
        port, stop = free_port(), threading.Event()
        api = start_api(settings, port)
        received: dict[str, list[float]] = {}
        rows_seen: dict[int, float] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            _wait(lambda: client.get("/healthz").status_code == 200, 180)
        threads = [threading.Thread(target=subscribe, daemon=True, args=(
                       f"ws://127.0.0.1:{port}/graphql", create_token(settings, PROBE_USER), received, stop)),
                   threading.Thread(target=watch_rows, daemon=True,
                                    args=(self.session, [p["id"] for p in probes], rows_seen, stop))]
        for thread in threads:
            thread.start()
        produced: list[dict[str, Any]] = []
        sent: dict[int, float] = {}
        try:
            time.sleep(5)
            # warm-up: the probe phase's traffic without its probes; probes start once both streams have
            # processed it, so the latency measured is the steady state's, not that of the first micro-
            # batches (tens of seconds on a loaded 2-core machine) or of a JIT still compiling
            warm_up = background[:LATENCY_WARM_UP_S * 2 * 10]  # 10 deals every 0.5 s
            for k in range(0, len(warm_up), 10):
                produce(settings, warm_up[k:k + 10])
                time.sleep(0.5)
            produced += warm_up
            _wait(lambda: all(_rows_processed(q) >= len(warm_up) for q in queries), 600)
            time.sleep(2)
            for i, probe in enumerate(probes):
                chunk = background[len(warm_up) + 10 * i: len(warm_up) + 10 * (i + 1)]  # ~10 per probe
                produce(settings, chunk)
                sent[probe["id"]] = produce(settings, [probe])[0]
                produced += [*chunk, probe]
                time.sleep(0.5)
            deadline = time.monotonic() + 300  # a loaded machine: wait for the last probes, within reason
            while time.monotonic() < deadline and not all(str(d) in received and d in rows_seen for d in sent):
                time.sleep(0.5)
            time.sleep(2)
        finally:
            stop.set()
            api.terminate()
            api.wait(10)
            for query in queries:
                query.stop()
        alert_s = sorted(received[str(d)][0] - t for d, t in sent.items() if str(d) in received)
        row_s = sorted(rows_seen[d] - t for d, t in sent.items() if d in rows_seen)
        stored = Counter((r.user_id, r.interest_id, r.deal_id, r.deal_updated_at.replace(tzinfo=UTC))
                         for r in self.session.execute(f"SELECT * FROM {KEYSPACE}.alerts_by_user"))
        now = datetime.now(UTC)
        want = set(alert_oracle.fired([(r, now) for r in produced], interests))
        return {"alert_latency_p50_s": _pct(alert_s, 0.5), "alert_latency_p99_s": _pct(alert_s, 0.99),
                "row_latency_p50_s": _pct(row_s, 0.5), "row_latency_p99_s": _pct(row_s, 0.99),
                "alert_over_row_latency_p50": _pct(alert_s, 0.5) / _pct(row_s, 0.5),
                "probes": len(probes), "probes_alerted_on_socket": len(alert_s), "latency_deals": len(produced),
                "latency_interests": len(interests), "alerts_expected": len(want),
                "alerts_missed": len(want - set(stored)), "alerts_extra": len(set(stored) - want),
                "alerts_duplicated": sum(n - 1 for n in stored.values())
                + sum(len(times) - 1 for times in received.values())}

    def drain(self, settings: Settings, records: list[dict[str, Any]], which: int, sink: Any = None) -> float:
        """Seconds for one stream (0: deals, 1: alerts) to drain `records` with availableNow."""
        from streaming.alerts_job import start_alerts_stream
        from streaming.deals_job import start_deals_stream

        produce(settings, records)
        name = f"drain-{which}-{settings.topic_deals_raw}"
        started = time.monotonic()
        if which == 0:
            query = start_deals_stream(self.spark, settings, available_now=True, checkpoint=f"{self.work}/{name}")
        else:
            query = start_alerts_stream(self.spark, settings, available_now=True, checkpoint=f"{self.work}/{name}",
                                        sink=sink)
        query.awaitTermination()
        return time.monotonic() - started

    def match_alone(self, settings: Settings, index: InterestIndex) -> tuple[float, int]:
        """Seconds to find the alerts of the deals in `settings`' topic without delivering any, and how many.

        The alert sink's steps up to its writes, on the whole topic read as a batch: parse, one row per
        version, its index keys, the interests filed under them (`index`, warm), the join and every
        criterion, the re-arm rule (against no stored state: the matcher run's deals are all new).
        With the full run's time it splits the matcher's cost into matching and delivering.
        """
        from pipeline import alert_transforms as at
        from pipeline import deal_transforms as dt
        from pipeline.alert_schemas import ALERT_STATE_BY_DEAL_SCHEMA, VERSION_SCORE_SCHEMA
        from pipeline.driver_rows import empty_frame

        started = time.monotonic()
        raw_df = (self.spark.read.format("kafka").option("kafka.bootstrap.servers", settings.kafka_bootstrap)
                  .option("subscribe", settings.topic_deals_raw).option("startingOffsets", "earliest").load()
                  .selectExpr("CAST(key AS string) AS key", "CAST(value AS string) AS value", "topic", "partition",
                              "offset", "timestamp"))
        valid_df = raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals)
        versions_df = at.alert_versions(valid_df).localCheckpoint()
        keys = {row[0] for row in at.with_index_keys(versions_df).select("index_key").distinct().collect()}
        interests_df = index.frame(self.spark, keys)
        assert interests_df is not None, "100k interests: the catalog's keys hold some"
        # no interest here sets a verified discount: the sink then looks up no score either
        candidates_df = at.with_verified_discount(at.match_interests(versions_df, interests_df),
                                                  empty_frame(self.spark, VERSION_SCORE_SCHEMA))
        alerts = at.fired_alerts(candidates_df, empty_frame(self.spark, ALERT_STATE_BY_DEAL_SCHEMA)).count()
        versions_df.unpersist()
        return time.monotonic() - started, alerts

    def throughput(self) -> dict[str, float]:
        from pipeline.alert_interests import InterestIndex
        from pipeline.alert_sink import AlertSink

        count, interests = (1000 if self.quick else 20_000), 100_000
        catalog = catalog_deals(count + 300, seed=31)
        self.truncate()
        file_interests(self.session, many_interests(catalog, interests, seed=32))
        sink = AlertSink(self.topics("warm"))
        self.drain(self.topics("warm"), catalog[count:], 1, sink)  # loads the interests of every key once
        alerts_s = self.drain(self.topics("matcher"), catalog[:count], 1, sink)
        deals_s = self.drain(self.topics("deals"), catalog[:count], 0)
        sink.close()
        index = InterestIndex(lambda: self.session, KEYSPACE)
        self.match_alone(self.topics("warm"), index)  # reads the interests of every key once, as above
        matching_s, alerts = self.match_alone(self.topics("matcher"), index)
        per_user_day = Counter((r.user_id, r.deliver_at.date()) for r in self.session.execute(
            f"SELECT user_id, deliver_at, delivery FROM {KEYSPACE}.alerts_by_user") if r.delivery == "INSTANT")
        return {"throughput_deals": count, "throughput_interests": interests,
                "matcher_changed_deals_per_s": count / alerts_s, "deals_stream_deals_per_s": count / deals_s,
                "matcher_over_deals_stream": deals_s / alerts_s,
                "matching_alone_changed_deals_per_s": count / matching_s,
                "matching_alone_over_deals_stream": deals_s / matching_s,
                "matcher_alerts": alerts, "matcher_alerts_per_s": alerts / alerts_s,
                "instant_alerts_per_user_day_max": max(per_user_day.values(), default=0),
                "instant_alerts_per_user_day_mean": sum(per_user_day.values()) / max(1, len(per_user_day)),
                "max_per_day_cap": CAP}


def report(m: dict[str, float]) -> str:
    rows = [
        ("alert latency p50 (s) vs row latency p50", m["alert_latency_p50_s"], m["row_latency_p50_s"],
         m["alert_over_row_latency_p50"]),
        ("alert latency p99 (s) vs row latency p99", m["alert_latency_p99_s"], m["row_latency_p99_s"],
         m["alert_latency_p99_s"] / m["row_latency_p99_s"]),
        ("matcher deals/s (100k interests) vs deals stream", m["matcher_changed_deals_per_s"],
         m["deals_stream_deals_per_s"], m["matcher_over_deals_stream"]),
        ("matching alone deals/s (no writes) vs deals stream", m["matching_alone_changed_deals_per_s"],
         m["deals_stream_deals_per_s"], m["matching_alone_over_deals_stream"]),
        ("instant alerts per user-day: max vs cap", m["instant_alerts_per_user_day_max"], m["max_per_day_cap"],
         m["instant_alerts_per_user_day_max"] / m["max_per_day_cap"]),
    ]
    counts = (f"alerts expected {m['alerts_expected']:.0f}: missed {m['alerts_missed']:.0f}, extra "
              f"{m['alerts_extra']:.0f}, duplicated {m['alerts_duplicated']:.0f}; probes alerted on the socket "
              f"{m['probes_alerted_on_socket']:.0f}/{m['probes']:.0f}; the matcher run found "
              f"{m['matcher_alerts']:.0f} alerts for {m['throughput_deals']:.0f} deals, "
              f"{m['matcher_alerts_per_s']:,.0f} delivered per second")
    return table(("measure", "value", "baseline", "ratio"), rows) + "\n" + counts


def run(quick: bool) -> dict[str, float]:
    bench = Run(quick)
    try:
        log.info("latency at a steady rate…")
        metrics = bench.latency()
        log.info("latency: %s", {k: round(v, 3) for k, v in metrics.items()})  # kept if the next part fails
        log.info("matching throughput with 100k interests…")
        metrics |= bench.throughput()
    finally:
        bench.spark.stop()
        bench.session.cluster.shutdown()  # before the stack stops: its reconnects would print tracebacks
        remove_local_dir(bench.work)
    return metrics


if __name__ == "__main__":
    bench_main("alerts", __doc__, "fewer probes and deals (a few minutes)", run, report)
