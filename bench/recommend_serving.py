"""Serving part of bench.recommend: `viewer { recommendations }` against `deal(id)`, same API, same run.

The catalog's deal rows go into keyspace exs_bench_recommend by plain CQL (expiry moved into the
future: the simulator's catalog is dated 2016), the blend's lists through the recommendation sink;
then one `exstreamly api` subprocess serves both and a keep-alive client (bench.api's) drives each
at concurrency 1 and 8. `deal(id)` is sent with `Cache-Control: no-cache`, as a token bypasses the
answer cache too, so both resolve every request.
"""
from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from conf.settings import Settings

RECOMMENDATIONS = "{ viewer { recommendations(first: 10) { score reason deal { id title price merchantName } } } }"
DEAL = "query($id: ID!) { deal(id: $id) { id title price value discountPct merchantName expiresAt } }"
LEVELS = (1, 8)
SAMPLE = 64


def seed_deals(session: Any, keyspace: str, records: Sequence[Any]) -> None:
    """deals_by_id and deals_by_geocell rows of the catalog (what the API reads), by plain CQL."""
    from cassandra.concurrent import execute_concurrent_with_args

    from pipeline.cells import GEOCELL_PRECISION, geohash

    expires, by_id, by_cell = datetime(2030, 1, 1), [], []
    for r in records:
        cell = None if r.lat is None else geohash(r.lat, r.lng, GEOCELL_PRECISION)
        pct = round((r.value - r.price) / r.value, 4) if r.value else 0.0
        name = r.merchant.get("name")
        by_id.append((r.id, r.title, r.short_title, r.price, r.value, pct, r.category, r.online, expires,
                      r.merchant.get("id"), name, r.lat, r.lng, cell))
        if cell is not None:
            by_cell.append((cell, r.id, r.lat, r.lng, r.category, r.price, r.value, pct, r.title, name, expires))
    for cql, rows in (
        (f"INSERT INTO {keyspace}.deals_by_id (deal_id, title, short_title, price, value, discount_pct, category_slug,"
         " online, expires_at, merchant_id, merchant_name, latitude, longitude, geocell) VALUES "
         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", by_id),
        (f"INSERT INTO {keyspace}.deals_by_geocell (geocell, deal_id, latitude, longitude, category_slug, price, value,"
         " discount_pct, title, merchant_name, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", by_cell),
    ):
        execute_concurrent_with_args(session, session.prepare(cql), rows, concurrency=64, raise_on_first_error=True)


def seed(spark: Any, settings: Settings, records: Sequence[Any], trained: Any, deals_df: Any) -> None:
    """The catalog's deal rows (expiry moved into the future), then the blend's lists through the sink."""
    from conf.clients import cassandra_cluster
    from pipeline.recommend_sink import recommendation_frames, write_recommendations
    from stack.cql import apply_schema

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect()
        apply_schema(session, settings)
        seed_deals(session, settings.keyspace, records)
    finally:
        cluster.shutdown()
    frames = recommendation_frames(trained, deals_df, settings, trained_at=datetime.now(UTC).replace(microsecond=0))
    write_recommendations(frames, settings)


def post(query: str, variables: dict[str, Any], headers: dict[str, str]) -> bytes:
    body = orjson.dumps({"query": query, "variables": variables})
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def measure_serving(spark: Any, settings: Settings, records: Sequence[Any], trained: Any, deals_df: Any, *,
                    seconds: float) -> dict[str, float]:
    from bench.api import drive, wait_ready
    from graphql_api.auth import create_token
    from tests.integration.api_client import free_port

    seed(spark, settings, records, trained, deals_df)
    users = [r["user_id"] for r in trained.history.homes.select("user_id").limit(5000).collect()]
    rng = random.Random(13)
    viewer = [post(RECOMMENDATIONS, {}, {"Authorization": f"Bearer {create_token(settings, u)}"})
              for u in rng.sample(users, min(SAMPLE, len(users)))]
    deal = [post(DEAL, {"id": str(r.id)}, {"Cache-Control": "no-cache"}) for r in rng.sample(list(records), SAMPLE)]
    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "exstreamly")
    env = {**os.environ, "EXS_KEYSPACE": settings.keyspace}
    server = subprocess.Popen([exe, "api", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    metrics: dict[str, float] = {}
    try:
        wait_ready(port, server)
        for level in LEVELS:
            prefix = "" if level == 1 else f"c{level}_"
            for name, requests in (("deal", deal), ("viewer_recommendations", viewer)):
                measured = asyncio.run(drive(port, requests, level, seconds))
                metrics |= {f"{prefix}{name}_{k}": v for k, v in measured.items()}
            for stat in ("p50", "p99"):
                metrics[f"{prefix}recommendations_vs_deal_{stat}"] = (
                    metrics[f"{prefix}viewer_recommendations_{stat}_ms"] / metrics[f"{prefix}deal_{stat}_ms"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return metrics
