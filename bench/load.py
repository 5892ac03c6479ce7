"""An open-loop load test of the GraphQL API while the whole platform runs.

Run: `.venv/bin/python -m bench.load [--quick]` (starts the local stack if it is not running).

Open loop: requests start at a fixed arrival rate whatever the API's speed (a closed loop of waiting
clients slows down with the server and hides its queueing), and each latency runs from the moment its
request was due to start, so a stall counts for every request it delayed (no coordinated omission).
The mix is the dashboard's own documents (dashboard/src/queries.js, read through node): search, deal,
merchants, the live page's poll (sales timeline, purchase feed, top sellers), the activity map,
categories, a signed-in viewer, and the live page's `trending` subscription over graphql-transport-ws
(connect, subscribe, first update, close). Variables are drawn from the deals and categories served.

1. `exstreamly run` (simulator, crawler, the speed layer, 50 activity events/s, the API) is started and
   measured once the one-off work of its start has ended, as bench.node measures it: the first full crawl
   through the deals stream and the recommender's one training (minutes of both cores, at a low
   priority). What the API serves beside is then the platform at its design rates: incremental crawl
   rounds, the streams, the activity simulator. 30 s of warm-up at 10 req/s are not counted.
2. Load: 50 req/s for 10 minutes (quick: 1 minute). Goals: p95 < 150 ms, p99 < 300 ms, errors < 0.1 %,
   p99 <= 1.5 x the idle p99.
3. Steps (1 minute each; quick 20 s): up from 50 req/s until a step misses a bound, or, when 50 req/s
   already misses, every rate down to 5 req/s (the p99-over-idle bound is known only after step 4):
   `max_rate_within_bounds` is the highest that meets every bound (0 when none does).
4. Idle baseline: the run stopped, the API alone on the same data at 5 req/s (quick: 30 s, else 2 min).
Output: a table, bench/results/load.json (with the load phase's latency histogram as
`load_hist_le_<ms>_ms` cumulative counts) and the histograms as a picture, bench/results/load.png.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import orjson
from hdrh.histogram import HdrHistogram

from bench.report import RESULTS, bench_main, table
from bench.whole_run import EXSTREAMLY, start_whole_run
from conf.settings import PROJECT_ROOT, Settings, load_settings

log = logging.getLogger(__name__)
P95_MS, P99_MS, ERROR_RATE, OVER_IDLE = 150.0, 300.0, 0.001, 1.5
LOAD_RATE = 50.0
#: Rates tried after the load phase: up while the bounds hold, down when 50 req/s already misses them.
STEP_UP = (75.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0)
STEP_DOWN = (35.0, 25.0, 15.0, 10.0, 5.0)
TIMEOUT_S = 10.0
#: Histogram bounds written to the JSON (ms): cumulative counts at or below each.
HIST_BOUNDS_MS = (5, 10, 20, 50, 100, 150, 200, 300, 500, 1000, 2000, 5000, 10000)
DEAL_SORTS = ("BEST_DISCOUNT", "CHEAPEST", "BIGGEST_SAVING", "VERIFIED_DISCOUNT", "BIGGEST_VERIFIED_SAVING")
MERCHANT_SORTS = ("DEALS_SOLD", "HONESTY", "BEST_RATED")


def dashboard_documents() -> dict[str, str]:
    """Every document the dashboard sends, exactly as it sends them (evaluated by node)."""
    script = "import * as q from './dashboard/src/queries.js'; console.log(JSON.stringify(q));"
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=PROJECT_ROOT, check=True,
                         capture_output=True, text=True).stdout
    documents: dict[str, str] = orjson.loads(out)
    return documents


# -- what one request is --------------------------------------------------------------------------

@dataclass(frozen=True)
class Served:
    """What the API serves now, to draw variables from."""

    deal_ids: list[str]
    categories: list[str]
    token: str


@dataclass
class Mix:
    """Weighted requests: (name, weight, make variables)."""

    documents: dict[str, str]
    served: Served
    rng: random.Random = field(default_factory=lambda: random.Random(17))

    @cached_property
    def entries(self) -> list[tuple[str, float, Callable[[], dict[str, Any]]]]:
        s, r = self.served, self.rng
        return [
            ("SEARCH", 30, lambda: {"filter": {"category": r.choice(s.categories)}, "sort": r.choice(DEAL_SORTS),
                                    "first": 20, "after": None}),
            ("DEAL", 25, lambda: {"id": r.choice(s.deal_ids)}),
            ("MERCHANTS", 10, lambda: {"category": r.choice(s.categories), "sort": r.choice(MERCHANT_SORTS),
                                       "first": 20, "after": None}),
            ("LIVE", 15, lambda: {"category": r.choice(s.categories)}),
            ("ACTIVITY_MAP", 5, lambda: {"precision": 4}),
            ("CATEGORIES", 5, dict),
            ("VIEWER", 5, dict),
            ("TRENDING_LIVE", 5, lambda: {"window": "TEN_SECONDS"}),
        ]

    @cached_property
    def _weights(self) -> list[float]:
        return [w for _, w, _ in self.entries]

    def draw(self) -> tuple[str, dict[str, Any]]:
        name, _, variables = self.rng.choices(self.entries, weights=self._weights)[0]
        return name, variables()


class Client:
    """HTTP/1.1 keep-alive to /graphql and graphql-transport-ws sockets, as the dashboard talks.

    aiohttp, not httpx: with hundreds of requests waiting on a slow server, httpx's pool spends its
    time re-scanning the queue (quadratic), and the generator itself then falls behind its schedule.
    """

    def __init__(self, api_url: str, token: str) -> None:
        import aiohttp

        self.api_url, self.token = api_url, token
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                          timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
                                          json_serialize=lambda value: orjson.dumps(value).decode())

    async def send(self, name: str, document: str, variables: dict[str, Any]) -> str | None:
        """None when answered well, else what went wrong."""
        if document.lstrip().startswith("subscription"):
            async with asyncio.timeout(TIMEOUT_S):
                return await self.first_update(document, variables)
        headers = {"Authorization": f"Bearer {self.token}"} if name == "VIEWER" else {}
        async with self.http.post(self.api_url, json={"query": document, "variables": variables},
                                  headers=headers) as response:
            body = await response.read()
        if response.status != 200:
            return f"HTTP {response.status}"
        return "GraphQL errors" if orjson.loads(body).get("errors") else None

    async def first_update(self, document: str, variables: dict[str, Any]) -> str | None:
        """Connect, subscribe, wait for the first update, complete: what opening the live page costs."""
        async with self.http.ws_connect(self.api_url, protocols=("graphql-transport-ws",)) as ws:
            await ws.send_str(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
            if orjson.loads(await ws.receive_str()).get("type") != "connection_ack":
                return "no connection_ack"
            await ws.send_str(orjson.dumps({"id": "1", "type": "subscribe",
                                            "payload": {"query": document, "variables": variables}}).decode())
            message = orjson.loads(await ws.receive_str())
            await ws.send_str(orjson.dumps({"id": "1", "type": "complete"}).decode())
            if message.get("type") != "next" or message["payload"].get("errors"):
                return f"subscription answered {message.get('type')}"
        return None

    async def close(self) -> None:
        await self.http.close()


# -- the open loop --------------------------------------------------------------------------------

@dataclass
class Phase:
    """One rate held for a while: a latency histogram (from each request's due time) and the errors."""

    rate: float
    seconds: float
    histogram: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, 60_000_000, 3))  # µs
    by_query: dict[str, HdrHistogram] = field(default_factory=dict)  # the same, per document of the mix
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    late_starts: int = 0  # requests the generator itself started over 10 ms after they were due
    load_average_1m: float = 0.0  # the machine's, as the phase ended

    def percentile_ms(self, q: float) -> float:
        return self.histogram.get_value_at_percentile(q) / 1000

    def record(self, name: str, micros: int) -> None:
        self.histogram.record_value(micros)
        if name not in self.by_query:
            self.by_query[name] = HdrHistogram(1, 60_000_000, 3)
        self.by_query[name].record_value(micros)

    @property
    def error_rate(self) -> float:
        return sum(self.errors.values()) / max(self.sent, 1)

    def meets(self, idle_p99_ms: float | None) -> bool:
        within = self.percentile_ms(95) < P95_MS and self.percentile_ms(99) < P99_MS and self.error_rate < ERROR_RATE
        return within and (idle_p99_ms is None or self.percentile_ms(99) <= OVER_IDLE * idle_p99_ms)


async def open_loop(client: Client, mix: Mix, phase: Phase) -> Phase:
    """Start a request every 1/rate seconds for the phase's length, then wait for the last ones."""
    loop = asyncio.get_running_loop()
    start, tasks = loop.time(), set()

    async def one(due: float, name: str, variables: dict[str, Any]) -> None:
        try:
            problem = await client.send(name, mix.documents[name], variables)
        except Exception as error:  # a timeout, a refused connection: counted, the loop goes on
            problem = type(error).__name__
        phase.record(name, max(1, int((loop.time() - due) * 1e6)))
        if problem:
            phase.errors[f"{name}: {problem}"] += 1

    for k in range(int(phase.rate * phase.seconds)):
        due = start + k / phase.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            phase.late_starts += 1
        name, variables = mix.draw()
        task = asyncio.create_task(one(due, name, variables))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        phase.sent += 1
    phase.load_average_1m = os.getloadavg()[0]
    if tasks:
        await asyncio.wait(tasks)
    log.info("%.0f req/s for %.0f s: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms, errors %d (%s)%s",
             phase.rate, phase.seconds, phase.percentile_ms(50), phase.percentile_ms(95), phase.percentile_ms(99),
             phase.histogram.get_max_value() / 1000, sum(phase.errors.values()), dict(phase.errors.most_common(3)),
             f", {phase.late_starts} started late by the generator" if phase.late_starts else "")
    return phase


def served_now(settings: Settings, api_url: str) -> Served:
    """Categories and deal ids the API serves now (up to 100 deals from each of 12 categories)."""
    from graphql_api.auth import create_token

    def ask(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = httpx.post(api_url, json={"query": query, "variables": variables or {}}, timeout=30).json()
        if body.get("errors"):
            raise RuntimeError(f"the API refused the benchmark's setup query: {body['errors'][0]}")
        data: dict[str, Any] = body["data"]
        return data

    tops = ask("{ categories { slug children { slug } } }")["categories"]
    categories = [c["slug"] for top in tops for c in [top, *top["children"]]]
    deal_ids: set[str] = set()
    for slug in categories[:12]:
        page = ask("query($c: String) { deals(filter: {category: $c}, first: 100) { edges { node { id } } } }",
                   {"c": slug})
        deal_ids |= {e["node"]["id"] for e in page["deals"]["edges"]}
    if not deal_ids:
        raise RuntimeError("the API serves no deals: nothing to load it with")
    return Served(sorted(deal_ids), categories, create_token(settings, 1))


async def phases(api_url: str, mix: Mix, plan: list[Phase], keep_going: Callable[[Phase], bool]) -> list[Phase]:
    client = Client(api_url, mix.served.token)
    done: list[Phase] = []
    try:
        for phase in plan:
            done.append(await open_loop(client, mix, phase))
            if not keep_going(phase):
                break
    finally:
        await client.close()
    return done


# -- the idle baseline: the API alone --------------------------------------------------------------

def api_alone(settings: Settings) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([EXSTREAMLY, "api"], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{settings.api_host}:{settings.api_port}/healthz"
    for _ in range(120):
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("`exstreamly api` did not answer /healthz")


def run(quick: bool) -> dict[str, float]:
    settings = load_settings()
    api_url = f"http://{settings.api_host}:{settings.api_port}/graphql"
    load_s, step_s, idle_s = (60.0, 20.0, 30.0) if quick else (600.0, 60.0, 120.0)
    documents = dashboard_documents()
    whole_run = start_whole_run(settings)
    try:
        log.info("first full crawl fetched; waiting for the start-up work (training, catch-up)…")
        steady_s = whole_run.wait_start_up_work(1800)
        log.info("start-up work done after %.0f s", steady_s)
        mix = Mix(documents, served_now(settings, api_url))
        log.info("serving %d deals in %d categories; warming up", len(mix.served.deal_ids), len(mix.served.categories))
        asyncio.run(phases(api_url, mix, [Phase(10, 30)], lambda _: True))
        (load,) = asyncio.run(phases(api_url, mix, [Phase(LOAD_RATE, load_s)], lambda _: True))
        whole_run.ensure_running("the load phase")
        if load.meets(None):  # up until a rate misses the bounds
            steps = asyncio.run(phases(api_url, mix, [Phase(r, step_s) for r in STEP_UP], lambda p: p.meets(None)))
        else:  # every rate down: whether a step's p99 is within 1.5x idle is known only after the idle run
            steps = asyncio.run(phases(api_url, mix, [Phase(r, step_s) for r in STEP_DOWN], lambda _: True))
        whole_run.ensure_running("the steps")
    finally:
        whole_run.stop()
    api = api_alone(settings)
    try:
        (idle,) = asyncio.run(phases(api_url, mix, [Phase(5, idle_s)], lambda _: True))
    finally:
        api.terminate()
        api.wait(timeout=30)
    idle_p99 = idle.percentile_ms(99)
    passing = [p.rate for p in [load, *steps] if p.meets(idle_p99)]
    log.info("picture: %s", plot([("idle, API alone, 5 req/s", idle), (f"load, {LOAD_RATE:g} req/s", load),
                                  *((f"step, {p.rate:g} req/s", p) for p in steps)]))
    return metrics(load, steps, idle, max(passing, default=0.0)) | {"seconds_to_steady": steady_s}


def metrics(load: Phase, steps: list[Phase], idle: Phase, max_rate: float) -> dict[str, float]:
    out: dict[str, float] = {
        "load_rate_per_s": load.rate, "load_seconds": load.seconds, "load_requests": load.sent,
        "load_p50_ms": load.percentile_ms(50), "load_p95_ms": load.percentile_ms(95),
        "load_p99_ms": load.percentile_ms(99), "load_max_ms": load.histogram.get_max_value() / 1000,
        "load_error_rate": load.error_rate, "load_late_starts": load.late_starts,
        "idle_p50_ms": idle.percentile_ms(50), "idle_p99_ms": idle.percentile_ms(99),
        "idle_error_rate": idle.error_rate,
        "load_p99_over_idle_p99": load.percentile_ms(99) / idle.percentile_ms(99),
        "max_rate_within_bounds": max_rate, "load_average_1m": load.load_average_1m,
        "idle_load_average_1m": idle.load_average_1m,
    }
    for name, histogram in sorted(load.by_query.items()):  # which documents make the tail
        out |= {f"load_{name.lower()}_p95_ms": histogram.get_value_at_percentile(95) / 1000,
                f"load_{name.lower()}_p99_ms": histogram.get_value_at_percentile(99) / 1000}
    for bound in HIST_BOUNDS_MS:
        out[f"load_hist_le_{bound}_ms"] = sum(c for v, c in _counts(load.histogram) if v <= bound * 1000)
    for step in steps:
        key = f"step_{step.rate:g}"
        out |= {f"{key}_p95_ms": step.percentile_ms(95), f"{key}_p99_ms": step.percentile_ms(99),
                f"{key}_error_rate": step.error_rate}
    return out


def _counts(histogram: HdrHistogram) -> list[tuple[int, int]]:
    return [(item.value_iterated_to, item.count_at_value_iterated_to) for item in histogram.get_recorded_iterator()]


def plot(phases_: list[tuple[str, Phase]]) -> Path:
    """Latency by percentile (log scale of 1/(1-q), as HdrHistogram plots are read) for every phase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    quantiles = [0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999]
    xs = [1 / (1 - q) for q in quantiles]
    for label, phase in phases_:
        ax.plot(xs, [phase.percentile_ms(q * 100) for q in quantiles], marker="o", label=label)
    ax.axhline(P95_MS, color="grey", linestyle=":", label=f"p95 bound {P95_MS:g} ms")
    ax.axhline(P99_MS, color="grey", linestyle="--", label=f"p99 bound {P99_MS:g} ms")
    ax.set(xscale="log", yscale="log", xlabel="percentile", ylabel="latency from due time, ms",
           title="GraphQL API under open-loop load while the platform runs")
    ax.set_xticks(xs, [f"{q * 100:g}%" for q in quantiles])
    ax.legend(fontsize=8)
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "load.png"
    fig.savefig(path, dpi=90)
    return path


def report(m: dict[str, float]) -> str:
    rows = [
        ("p95, ms", m["load_p95_ms"], "", "", f"< {P95_MS:g}"),
        ("p99, ms", m["load_p99_ms"], m["idle_p99_ms"], m["load_p99_over_idle_p99"],
         f"< {P99_MS:g}; ratio <= {OVER_IDLE}"),
        ("p50, ms", m["load_p50_ms"], m["idle_p50_ms"], m["load_p50_ms"] / max(m["idle_p50_ms"], 1e-9), ""),
        ("errors", f"{m['load_error_rate']:.4%}", f"{m['idle_error_rate']:.4%}", "", f"< {ERROR_RATE:.1%}"),
        ("highest rate within the bounds, req/s", m["max_rate_within_bounds"], "", "", "reported"),
    ]
    names = sorted(k.removeprefix("load_").removesuffix("_p99_ms") for k in m
                   if k.endswith("_p99_ms") and k.startswith("load_") and k != "load_p99_ms")
    rows += [(f"under load, {n.upper()}: p95 / p99 ms", f"{m[f'load_{n}_p95_ms']:.1f} / {m[f'load_{n}_p99_ms']:.1f}",
              "", "", "") for n in names]
    steps = sorted({float(k.split("_")[1]) for k in m if k.startswith("step_")})
    rows += [(f"step {r:g} req/s: p95 / p99 ms, errors",
              f"{m[f'step_{r:g}_p95_ms']:.1f} / {m[f'step_{r:g}_p99_ms']:.1f}", "", "",
              f"{m[f'step_{r:g}_error_rate']:.3%}") for r in steps]
    head = (f"{m['load_rate_per_s']:g} req/s for {m['load_seconds']:g} s ({m['load_requests']:,.0f} requests) while "
            "the platform runs; baseline: the API alone at 5 req/s\n")
    return head + table(("measure", "under load", "idle (API alone)", "ratio", "goal"), rows)


def main() -> None:
    bench_main("load", __doc__, "1 minute at 50 req/s, 20 s steps, 30 s idle", run, report)


if __name__ == "__main__":
    main()
