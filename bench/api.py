"""GraphQL API vs a bare Starlette endpoint running the same prepared CQL and orjson encoding.

Run: `.venv/bin/python -m bench.api [--quick]` (starts Kafka and Cassandra when they are not running).

One uvicorn worker (a subprocess) serves the real API app, to which two bare endpoints are added:
`/bare/deal` (the deal and its price history, read concurrently through the same Repository) and
`/bare/search` (the same one-partition read of 51 rows). This process seeds keyspace `exs_bench`
(500 deals in one category, via execute_concurrent_with_args) and drives each endpoint at a fixed
concurrency with a minimal keep-alive HTTP/1.1 client, then measures the worst documents the cost
budget admits (`bench/api_worst.py`). The GraphQL scenarios run twice: as clients send them (hot
queries reuse an answer for EXS_API_RESPONSE_CACHE_S, graphql_api/response_cache.py) and with
`Cache-Control: no-cache` (`uncached_*`: what resolving costs); each scenario runs in two halves, the
scenarios in order and then reversed, so a drift over the run does not favour one side. Then the same
server with two uvicorn workers (as `exstreamly api` runs by default) at the highest concurrency
(`w2_c8_*`): GraphQL and the bare endpoints both on two processes. Output: a table and
bench/results/api.json.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.api_worst import RequestBytes, measure_worst, reads_per_request
from bench.report import local_stack, table, write_results
from conf.settings import Settings, load_settings

log = logging.getLogger(__name__)
KEYSPACE = "exs_bench"
CATEGORY, PARENT = "restaurants", "dining-nightlife"
DEALS = 500
DEAL_QUERY = """query Deal($id: ID!) { deal(id: $id) { id title price value discountPct merchantName
  expiresAt merchant { name locality } priceHistory { observedAt price } } }"""
SEARCH_QUERY = """query Search($c: String!) { deals(filter: {category: $c, minDiscount: 0.05},
  sort: BEST_DISCOUNT, first: 50) { edges { cursor node { id title price value discountPct merchantName
  imageUrl expiresAt } } pageInfo { hasNextPage endCursor } } }"""


# -- the server (subprocess) ----------------------------------------------------------------------

def serve(port: int, workers: int) -> None:
    """Run the API plus the bare endpoints in `workers` uvicorn worker processes."""
    import uvicorn

    uvicorn.run("bench.api:bench_app_of_keyspace", factory=True, workers=workers, host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


def bench_app_of_keyspace() -> Any:
    """The app factory each worker calls (a worker process gets an import string, not an object)."""
    return bench_app(load_settings(keyspace=KEYSPACE))


def bench_app(settings: Settings) -> Any:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from graphql_api.app import create_app
    from graphql_api.cursors import encode_cursor
    from graphql_api.search import HIGHEST

    app = create_app(settings)
    repo = app.state.repository

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.replace(tzinfo=UTC).isoformat()

    async def bare_deal(request: Request) -> Response:
        deal_id = int(request.query_params["id"])
        (row,), history = await asyncio.gather(repo.deals([deal_id]), repo.price_history(deal_id, limit=100))
        body = None if row is None else {
            "id": str(row["deal_id"]), "title": row["title"], "price": row["price"], "value": row["value"],
            "discountPct": row["discount_pct"], "merchantName": row["merchant_name"],
            "expiresAt": iso(row["expires_at"]),
            "merchant": {"name": row["merchant_name"], "locality": row["merchant_locality"]},
            "priceHistory": [{"observedAt": iso(h["observed_at"]), "price": h["price"]} for h in history]}
        return Response(orjson.dumps({"data": {"deal": body}}), media_type="application/json")

    async def bare_search(request: Request) -> Response:
        page = await repo.deals_by_category_discount(request.query_params["c"], 0.05, HIGHEST, page_size=51)
        rows = page.rows[:50]
        edges = [{"cursor": encode_cursor("BEST_DISCOUNT", r["discount_pct"], r["deal_id"]), "node": {
            "id": str(r["deal_id"]), "title": r["title"], "price": r["price"], "value": r["value"],
            "discountPct": r["discount_pct"], "merchantName": r["merchant_name"], "imageUrl": r["image_url"],
            "expiresAt": iso(r["expires_at"])}} for r in rows]
        info = {"hasNextPage": len(page.rows) > 50, "endCursor": edges[-1]["cursor"] if edges else None}
        return Response(orjson.dumps({"data": {"deals": {"edges": edges, "pageInfo": info}}}),
                        media_type="application/json")

    async def cql_requests(_request: Request) -> Response:
        return Response(str(repo.requests))

    app.router.routes[:0] = [Route("/bare/deal", bare_deal), Route("/bare/search", bare_search),
                             Route("/bench/cql-requests", cql_requests)]
    return app


# -- seeding --------------------------------------------------------------------------------------

def seed(settings: Settings) -> list[int]:
    """Fresh keyspace exs_bench with DEALS deals in one category (and its parent), 3 prices each."""
    from cassandra.concurrent import execute_concurrent_with_args

    from conf.clients import cassandra_cluster
    from stack.cql import apply_schema

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect()
        apply_schema(session, settings)
        for table_name in ("deals_by_id", "deals_by_category_discount", "price_history_by_deal"):
            session.execute(f"TRUNCATE {KEYSPACE}.{table_name}")
        rng, now = random.Random(5), datetime(2026, 11, 1, tzinfo=UTC)
        deals, listings, history = [], [], []
        for i in range(DEALS):
            deal_id, value = 7_000_000 + i, round(rng.uniform(20, 400), 2)
            price = round(value * rng.uniform(0.1, 0.9), 2)
            pct = round((value - price) / value, 4)
            title, merchant = f"Up to {round(pct * 100)}% off dinner {i}", f"Bistro {i % 40}"
            deals.append((deal_id, title, price, value, pct, CATEGORY, PARENT, False, now + timedelta(days=90),
                          1000 + i % 40, merchant, "Milwaukee", f"https://img.example/{deal_id}.jpg"))
            for cat in (CATEGORY, PARENT):
                listings.append((cat, pct, deal_id, price, value, title, merchant,
                                 f"https://img.example/{deal_id}.jpg", False, now + timedelta(days=90)))
            history += [(deal_id, now - timedelta(days=d), round(price * (1 + d / 10), 2), value, pct)
                        for d in range(3)]
        for cql, rows in (
            ("INSERT INTO exs_bench.deals_by_id (deal_id, title, price, value, discount_pct, category_slug, "
             "parent_category, online, expires_at, merchant_id, merchant_name, merchant_locality, image_url) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", deals),
            ("INSERT INTO exs_bench.deals_by_category_discount (category_slug, discount_pct, deal_id, price, "
             "value, title, merchant_name, image_url, online, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             listings),
            ("INSERT INTO exs_bench.price_history_by_deal (deal_id, observed_at, price, value, discount_pct) "
             "VALUES (?, ?, ?, ?, ?)", history),
        ):
            execute_concurrent_with_args(session, session.prepare(cql), rows, concurrency=64,
                                         raise_on_first_error=True)
    finally:
        cluster.shutdown()
    return [d[0] for d in deals]


# -- the load generator ---------------------------------------------------------------------------

def request_bytes(kind: str, target: str, payload: dict[str, Any] | None, *, no_cache: bool = False) -> bytes:
    if payload is None:
        return f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    body = orjson.dumps(payload)
    cache = "Cache-Control: no-cache\r\n" if no_cache else ""  # bypasses the API's answer cache
    head = (f"POST {target} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{cache}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def connection(port: int, requests: list[bytes], until: float, latencies: list[float]) -> None:
    """One keep-alive connection sending requests back to back until `until`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") or b'"errors"' in body:
                raise RuntimeError(f"bad response: {head[:40]!r} {body[:200]!r}")
            i += 1
    finally:
        writer.close()


async def drive(port: int, requests: list[bytes], concurrency: int, seconds: float) -> dict[str, float]:
    latencies, elapsed = await timed_requests(port, requests, concurrency, seconds)
    return latency_stats(latencies, elapsed)


async def timed_requests(port: int, requests: list[bytes], concurrency: int,
                         seconds: float) -> tuple[list[float], float]:
    """Each request's latency over `seconds` of `concurrency` connections (after a 0.5 s warm-up), and
    the seconds they ran."""
    latencies: list[float] = []
    await asyncio.gather(*(connection(port, requests, time.perf_counter() + 0.5, []) for _ in range(concurrency)))
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(connection(port, requests, until, latencies) for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def latency_stats(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"rps": len(ordered) / elapsed, "p50_ms": 1000 * ordered[len(ordered) // 2],
            "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)], "requests": float(len(ordered))}


def scenarios(ids: list[int]) -> dict[str, list[bytes]]:
    picks = random.Random(9).sample(ids, 64)
    return {
        "bare_deal": [request_bytes("get", f"/bare/deal?id={i}", None) for i in picks],
        "graphql_deal": [request_bytes("post", "/graphql", {"query": DEAL_QUERY, "variables": {"id": str(i)}})
                         for i in picks],
        "bare_search50": [request_bytes("get", f"/bare/search?c={CATEGORY}", None)],
        "graphql_search50": [request_bytes("post", "/graphql", {"query": SEARCH_QUERY,
                                                                "variables": {"c": CATEGORY}})],
        # the same requests with the answer cache bypassed: what resolution itself costs
        "uncached_deal": [request_bytes("post", "/graphql", {"query": DEAL_QUERY, "variables": {"id": str(i)}},
                                        no_cache=True) for i in picks],
        "uncached_search50": [request_bytes("post", "/graphql", {"query": SEARCH_QUERY, "variables": {"c": CATEGORY}},
                                            no_cache=True)],
    }


async def measure(port: int, ids: list[int], concurrency: int, seconds: float) -> dict[str, float]:
    """Every scenario for `seconds` in two halves, the scenarios in order and then in reverse: a drift
    of the machine over the run falls on the bare endpoints and on GraphQL alike."""
    named = scenarios(ids)
    runs: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in named}
    for order in (list(named), list(reversed(named))):
        for name in order:
            latencies, elapsed = await timed_requests(port, named[name], concurrency, seconds / 2)
            runs[name] = (runs[name][0] + latencies, runs[name][1] + elapsed)
    metrics: dict[str, float] = {}
    for name, (latencies, elapsed) in runs.items():
        metrics.update({f"{name}_{key}": value for key, value in latency_stats(latencies, elapsed).items()})
    for what in ("deal", "search50"):
        for stat in ("p50_ms", "p99_ms"):
            metrics[f"ratio_{what}_{stat}"] = metrics[f"graphql_{what}_{stat}"] / metrics[f"bare_{what}_{stat}"]
        metrics[f"ratio_{what}_rps"] = metrics[f"bare_{what}_rps"] / metrics[f"graphql_{what}_rps"]
        metrics[f"uncached_ratio_{what}_p50_ms"] = metrics[f"uncached_{what}_p50_ms"] / metrics[f"bare_{what}_p50_ms"]
        metrics[f"uncached_ratio_{what}_p99_ms"] = metrics[f"uncached_{what}_p99_ms"] / metrics[f"bare_{what}_p99_ms"]
    return metrics


async def cql_per_search_page(port: int, request: RequestBytes, pages: int = 20) -> float:
    """CQL requests the server sent per 50-deal search page (read from the bench route)."""
    search = {"query": SEARCH_QUERY, "variables": {"c": CATEGORY}}
    return await reads_per_request(port, request, search, repeats=pages)


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the API server exited"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError("API server did not start")


def main() -> None:
    """Brings up Kafka and Cassandra first when they are not running (and stops them afterwards)."""
    with local_stack():
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per scenario instead of 10 s")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8],
                        help="client connections; each level is measured [default: 1 8]")
    parser.add_argument("--workers", type=int, default=2,
                        help="uvicorn workers of the second server, measured at the highest concurrency [default: 2]")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = load_settings(keyspace=KEYSPACE)
    if args.serve:
        serve(args.serve, args.serve_workers)
        return
    logging.basicConfig(level=logging.WARNING)
    ids = seed(settings)
    seconds = 2.0 if args.quick else 10.0
    metrics: dict[str, float] = {}
    with api_server(workers=1) as port:
        for level in args.concurrency:
            measured = asyncio.run(measure(port, ids, level, seconds))
            metrics.update({f"c{level}_{key}": value for key, value in measured.items()})
        # what a request costs when it is resolved: past the answer cache, which would otherwise count 0 reads
        uncached = functools.partial(request_bytes, no_cache=True)
        metrics["cql_requests_per_search_page"] = asyncio.run(cql_per_search_page(port, uncached))
        metrics.update(asyncio.run(measure_worst(port, uncached, drive, seconds, settings.api_max_cost)))
    top = max(args.concurrency)
    with api_server(workers=args.workers) as port:
        measured = asyncio.run(measure(port, ids, top, seconds))
        metrics.update({f"w{args.workers}_c{top}_{key}": value for key, value in measured.items()})
    report(metrics, args.concurrency, args.workers)


@contextlib.contextmanager
def api_server(workers: int) -> Iterator[int]:
    """The bench server in a subprocess with `workers` uvicorn workers; yields its port."""
    from tests.integration.api_client import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.api", "--serve", str(port),
                               "--serve-workers", str(workers)])
    try:
        wait_ready(port, server)
        time.sleep(1.0 + workers)  # every worker has connected, not only the first to accept
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def report(metrics: dict[str, float], levels: list[int], workers: int) -> None:
    top = max(levels)
    runs = [(f"c{c}", f"c={c}") for c in levels] + [(f"w{workers}_c{top}", f"c={top}, {workers} workers")]
    rows = [[label, name, *(metrics[f"{run}_{name}_{stat}"] for stat in ("rps", "p50_ms", "p99_ms"))]
            for run, label in runs for name in ("bare_deal", "graphql_deal", "uncached_deal", "bare_search50",
                                                "graphql_search50", "uncached_search50")]
    print(table(["run", "endpoint", "req/s", "p50 ms", "p99 ms"], rows))
    goals = []
    for run, label in runs:
        goals += [[f"{label} deal(id) p50 vs bare", metrics[f"{run}_ratio_deal_p50_ms"], "<= 1.5"],
                  [f"{label} deal(id) p99 vs bare", metrics[f"{run}_ratio_deal_p99_ms"], "<= 2"],
                  [f"{label} search50 p50 vs bare", metrics[f"{run}_ratio_search50_p50_ms"], "<= 3"],
                  [f"{label} search50 p99 vs bare", metrics[f"{run}_ratio_search50_p99_ms"], "<= 3"],
                  [f"{label} deal(id) p50 vs bare, cache bypassed", metrics[f"{run}_uncached_ratio_deal_p50_ms"],
                   "reference"],
                  [f"{label} search50 p50 vs bare, cache bypassed", metrics[f"{run}_uncached_ratio_search50_p50_ms"],
                   "reference"]]
    goals.append(["CQL requests per search page", metrics["cql_requests_per_search_page"], "1"])
    goals += [["worst admitted document: CQL reads", metrics["worst_admitted_cql_reads"],
               f"<= {metrics['cost_budget']:.0f} (the budget)"],
              ["worst admitted document: p99 ms (c=1)", metrics["worst_admitted_p99_ms"], "reported"],
              ["15 x near at a pole (refused): CQL reads", metrics["refused_pole_cql_reads"], "0"]]
    print(table(["ratio", "measured", "goal"], goals))
    print(f"wrote {write_results('api', metrics)}")


if __name__ == "__main__":
    main()
