"""Serving part of bench.recommend: `viewer { recommendations }` against `deal(id)`, same API, same run.

The catalog goes through the real deals sink into keyspace exs_bench_recommend (expiry moved into the
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


def seed(spark: Any, settings: Settings, records: Sequence[Any], trained: Any, deals_df: Any) -> None:
    """deals_by_id & co. through DealTablesSink, then the blend's lists through the recommendation sink."""
    from pipeline.recommend_sink import recommendation_frames, write_recommendations
    from pipeline.schemas import RAW_RECORD_SCHEMA
    from pipeline.sink import DealTablesSink
    from tests.conftest import raw_records

    payloads = [{**r.to_deal(), "expires_at": "2030-01-01T00:00:00Z"} for r in records]
    sink = DealTablesSink(settings)
    try:
        sink(spark.createDataFrame(raw_records(payloads), RAW_RECORD_SCHEMA), None)
    finally:
        sink.close()
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
    from conf.clients import cassandra_cluster
    from graphql_api.auth import create_token
    from stack.cql import apply_schema
    from tests.integration.api_client import free_port

    cluster = cassandra_cluster(settings)
    try:
        apply_schema(cluster.connect(), settings)
    finally:
        cluster.shutdown()
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
