"""Async DQE vs a sequential crawler against the churning simulator, with coverage from its ground truth.

Run: `.venv/bin/python -m bench.ingest [--quick]` (starts Kafka and Cassandra when they are not running).

The simulator runs as a subprocess (`exstreamly simulate`), restarted with the same seed before each
crawler so both start from the same catalog state; 100 ms per page and 120 simulated seconds per second
of churn. Scenarios: (1) the sequential baseline, one request at a time, page by page per category until
a short page, deals kept in memory; (2) the DQE, planner + one fetcher process with 16 pages in flight,
publishing to Kafka topics of its own; (3) the DQE against a server-side rate limit that is the
bottleneck; (4) the same with one listing per category (`plan_listing_deals=0`), the baseline of the
listings that merge small categories' short last pages. Coverage = distinct deals captured (read back
from deals_raw for the DQE) / deals live during the whole crawl (the simulator's truth). CPU per deal is
this process's CPU (the simulator is elsewhere). Under a rate limit every request counts, so a second
table puts the share of empty pages and deals/s ÷ (limit × a full page) beside issue 10's goals.
Output: the tables and bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.report import local_stack, table, write_results
from conf.clients import delete_topics
from conf.settings import Settings, load_settings
from ingest.api_model import DealsQuery
from ingest.client import DealsClient
from ingest.crawl import crawl
from ingest.fetcher import Fetcher
from ingest.readback import read_deals

log = logging.getLogger(__name__)
LATENCY_S = 0.100
IN_FLIGHT = 16
SEED = 2016
PER_PAGE = 100
EMPTY_SHARE_GOAL = 0.05  # issue 10: at most 5 % of the requests answered empty
CEILING_GOAL = 0.9  # issue 10: rate-limited deals/s >= 0.9 × limit × deals per full page


@dataclass
class Run:
    name: str
    pages: int = 0
    empty_pages: int = 0  # answered with no deal: under a rate limit, requests spent on nothing
    probes: int = 0  # the planner's one-deal `total` requests (they count against a rate limit too)
    deals: int = 0  # records captured (published for the DQE), duplicates included
    distinct: int = 0
    fetch_s: float = 0.0  # first request sent → last page answered
    total_s: float = 0.0  # whole run (planning, drain, commits included)
    coverage: float = 0.0
    cpu_s: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.fetch_s if self.fetch_s else 0.0

    @property
    def deals_per_s(self) -> float:
        return self.deals / self.fetch_s if self.fetch_s else 0.0

    @property
    def empty_share(self) -> float:
        return self.empty_pages / self.pages if self.pages else 0.0

    @property
    def page_fill(self) -> float:
        """Deals per page over what a full page carries: deals/s at a rate limit is at most limit × this."""
        return self.deals / (self.pages * PER_PAGE) if self.pages else 0.0


@contextmanager
def simulator(deals: int, *extra: str) -> Iterator[str]:
    """`exstreamly simulate` on a free port; yields its /v2 URL."""
    exe = Path(sys.executable).with_name("exstreamly")
    args = [
        str(exe),
        "simulate",
        "--port",
        "0",
        "--seed",
        str(SEED),
        "--deals",
        str(deals),
        "--time-scale",
        "120",
        "--latency-ms",
        str(LATENCY_S * 1000),
        *extra,
    ]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            match = re.search(r"serving (http://\S+/v2)", line)
            if match:
                threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
                yield match[1]
                return
        raise RuntimeError(f"simulator exited with {proc.wait()}")
    finally:
        proc.terminate()
        proc.wait(10)


def sim_now(url: str) -> float:
    return float(requests.get(url.removesuffix("/v2") + "/_truth/clock", timeout=10).json()["ts"])


def live_throughout(url: str, start: float, end: float) -> set[int]:
    body = requests.get(url.removesuffix("/v2") + f"/_truth/live?from={start}&to={end}", timeout=60).json()
    return set(body["ids"])


class Timed:
    """Wraps `client.deals` to record when requests start and answers arrive, and the CPU they use."""

    def __init__(self, client: DealsClient) -> None:
        self._deals = client.deals
        self.first = float("inf")
        self.last = 0.0
        self.cpu = 0.0
        self.calls = 0
        self.empty = 0
        self.probes = 0
        self.busy = 0.0  # summed request durations: busy / (last - first) = mean requests in flight
        self.durations: list[float] = []
        self._lock = threading.Lock()
        client.deals = self  # type: ignore[method-assign]  # the benchmark times every request of this client

    def __call__(self, query: DealsQuery) -> Any:
        began, cpu = time.monotonic(), time.thread_time()
        deals: list[Any] | None = None
        try:
            page = self._deals(query)
            deals = page.deals
            return page
        finally:
            with self._lock:
                self.cpu += time.thread_time() - cpu
                self.probes += query.per_page == 1
                if query.per_page > 1:  # planner probes (per_page=1) are not pages of the fetch phase
                    ended = time.monotonic()
                    self.calls += 1
                    self.empty += deals == []
                    self.busy += ended - began
                    self.durations.append(ended - began)
                    self.first, self.last = min(self.first, began), max(self.last, ended)


def sequential(settings: Settings, url: str) -> Run:
    """The baseline: one request at a time, every category page by page until a short page."""
    run = Run("sequential")
    seen: set[int] = set()
    with DealsClient(settings.model_copy(update={"deals_api_url": url}), pool_size=1) as client:
        timed = Timed(client)
        start, cpu, began = sim_now(url), time.process_time(), time.monotonic()
        for category in [c.slug for c in client.categories()]:
            page = 1
            while True:
                deals = client.deals(DealsQuery(page=page, per_page=PER_PAGE, category_slugs=(category,))).deals
                run.deals += len(deals)
                seen.update(d["id"] for d in deals)
                if len(deals) < PER_PAGE:
                    break
                page += 1
        run.total_s, run.cpu_s, end = time.monotonic() - began, time.process_time() - cpu, sim_now(url)
    run.pages, run.fetch_s, run.distinct = timed.calls, timed.last - timed.first, len(seen)
    run.empty_pages = timed.empty
    truth = live_throughout(url, start, end)
    run.coverage = len(truth & seen) / len(truth)
    run.parts = {"fetch_parse": timed.cpu}
    return run


def dqe(settings: Settings, url: str, name: str, rate: float) -> Run:
    """Planner + one fetcher process (16 threads) through Kafka; coverage from what landed."""
    tag = uuid.uuid4().hex[:8]
    bench_settings = settings.model_copy(
        update={
            "deals_api_url": url,
            "deals_api_rate_per_s": rate,
            "fetcher_threads": IN_FLIGHT,
            "topic_deals_raw": f"bench_ingest_raw_{tag}",
            "topic_deal_pages": f"bench_ingest_pages_{tag}",
            "fetcher_group": f"bench_ingest_{tag}",
        }
    )
    publish_cpu = [0.0]
    original = Fetcher._publish

    def publish(self: Fetcher, work: Any, page: Any) -> None:
        cpu = time.thread_time()
        original(self, work, page)
        publish_cpu[0] += time.thread_time() - cpu

    timers: list[Timed] = []
    original_init = DealsClient.__init__

    def init(self: DealsClient, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        timers.append(Timed(self))

    Fetcher._publish = publish  # type: ignore[method-assign]  # the benchmark swaps in a CPU-counting wrapper
    DealsClient.__init__ = init  # type: ignore[method-assign]  # so every fetcher's client gets a Timed wrapper
    try:
        start, cpu, began = sim_now(url), time.process_time(), time.monotonic()
        [result] = crawl(bench_settings, threading.Event(), progress_every_s=10)
        total_s, cpu_s, end = time.monotonic() - began, time.process_time() - cpu, sim_now(url)
    finally:
        Fetcher._publish = original  # type: ignore[method-assign]  # restores the method swapped in above
        DealsClient.__init__ = original_init  # type: ignore[method-assign]  # restores the method swapped in above
    [timed] = timers
    try:
        landed = read_deals(bench_settings)
    finally:
        delete_topics(bench_settings, [bench_settings.topic_deals_raw, bench_settings.topic_deal_pages])
    truth = live_throughout(url, start, end)
    run = Run(
        name,
        pages=timed.calls,
        empty_pages=timed.empty,
        probes=timed.probes,
        deals=landed.records,
        distinct=len(landed.by_id),
        fetch_s=timed.last - timed.first,
        total_s=total_s,
        cpu_s=cpu_s,
        coverage=len(truth & landed.by_id.keys()) / len(truth),
    )
    run.parts = {
        "fetch_parse": timed.cpu,
        "publish_call": publish_cpu[0],
        "p50_latency_s": statistics.median(timed.durations),
        "in_flight": timed.busy / run.fetch_s,
    }
    log.info("%s: %d landed; round counts %s", name, landed.records, result.counts)
    return run


def us_per_deal(seconds: float, run: Run) -> float:
    return seconds / max(1, run.deals) * 1e6


def budget_figures(seq: Run, fast: Run, limited: Run, per_category: Run, rate_limit: float) -> dict[str, float]:
    """Issue 10's request-budget figures; the sequential crawler (stops at a short page) is the baseline."""
    full_page_ceiling = rate_limit * PER_PAGE  # deals/s if every request at the limit came back full
    return {
        "dqe_empty_pages": fast.empty_pages,
        "dqe_empty_page_share": fast.empty_share,
        "rate_limited_empty_page_share": limited.empty_share,
        "sequential_empty_page_share": seq.empty_share,
        "dqe_page_fill": fast.page_fill,
        "sequential_page_fill": seq.page_fill,
        "rate_limited_deals_per_s": limited.deals_per_s,
        "rate_limited_page_fill": limited.page_fill,
        "rate_limited_vs_full_page_ceiling": limited.deals_per_s / full_page_ceiling,
        # the sequential crawler's pages, sent at the limit: what page-by-page crawling can carry
        "sequential_at_limit_vs_full_page_ceiling": seq.page_fill * min(1.0, limited.pages_per_s / rate_limit),
        "dqe_planner_probes": fast.probes,
        "rate_limited_per_category_empty_page_share": per_category.empty_share,
        "rate_limited_per_category_vs_full_page_ceiling": per_category.deals_per_s / full_page_ceiling,
        "rate_limited_per_category_coverage": per_category.coverage,
    }


def print_budget(
    seq: Run, fast: Run, limited: Run, per_category: Run, rate_limit: float, budget: dict[str, float]
) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    empty, ceiling = budget["dqe_empty_page_share"], budget["rate_limited_vs_full_page_ceiling"]
    rows = [
        [
            "empty pages / requests (DQE)",
            f"{100 * empty:.1f}% ({fast.empty_pages} of {fast.pages})",
            f"≤ {100 * EMPTY_SHARE_GOAL:.0f}%",
            f"sequential {100 * budget['sequential_empty_page_share']:.1f}% ({seq.empty_pages} of {seq.pages})",
            verdict(empty <= EMPTY_SHARE_GOAL),
        ],
        [
            "empty pages / requests (rate-limited DQE)",
            f"{100 * limited.empty_share:.1f}% ({limited.empty_pages} of {limited.pages})",
            f"≤ {100 * EMPTY_SHARE_GOAL:.0f}%",
            f"one listing per category {100 * per_category.empty_share:.1f}%",
            verdict(limited.empty_share <= EMPTY_SHARE_GOAL),
        ],
        [
            f"deals/s at {rate_limit:.0f} pages/s ÷ {rate_limit * PER_PAGE:.0f} (full pages)",
            f"{ceiling:.2f} = {limited.pages_per_s / rate_limit:.2f} of the limit × "
            f"{100 * limited.page_fill:.1f}% fill ({limited.deals_per_s:.0f} deals/s)",
            f"≥ {CEILING_GOAL}",
            f"sequential pages at the limit {budget['sequential_at_limit_vs_full_page_ceiling']:.2f} "
            f"({100 * seq.page_fill:.1f}% fill); one listing per category "
            f"{budget['rate_limited_per_category_vs_full_page_ceiling']:.2f}",
            verdict(ceiling >= CEILING_GOAL),
        ],
        [
            "coverage under churn (rate-limited DQE)",
            f"{100 * limited.coverage:.3f}%",
            "≥ 99.9%",
            f"sequential {100 * seq.coverage:.3f}%; one listing per category {100 * per_category.coverage:.3f}%",
            verdict(limited.coverage >= 0.999),
        ],
    ]
    print()
    print(table(["request budget (issue 10)", "figure", "goal", "baseline, same run", "goal"], rows))
    print(f"(the planner's {fast.probes} one-deal `total` probes come before the fetch phase and are not counted)")


def main() -> None:
    """Brings up Kafka and Cassandra first when they are not running (and stops them afterwards)."""
    with local_stack():
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k deals instead of 60k (a few minutes)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    deals = 20_000 if args.quick else 60_000
    rate_limit = 40.0
    settings = load_settings()
    load_before = os.getloadavg()[0]  # the box is shared (Spark, Kafka, Cassandra): say how busy it was

    with simulator(deals) as url:
        seq = sequential(settings, url)
    with simulator(deals) as url:
        fast = dqe(settings, url, "dqe", rate=10_000.0)
    with simulator(deals, "--rate-limit", str(rate_limit)) as url:
        limited = dqe(settings, url, "dqe_rate_limited", rate=rate_limit)
    with simulator(deals, "--rate-limit", str(rate_limit)) as url:
        per_category = dqe(
            settings.model_copy(update={"plan_listing_deals": 0}), url, "dqe_limited_per_category", rate=rate_limit
        )

    ceiling = IN_FLIGHT / LATENCY_S
    # the API's own latency, unloaded: what one request at a time saw (includes HTTP and parsing)
    measured_latency = seq.fetch_s / seq.pages
    measured_ceiling = IN_FLIGHT / measured_latency
    rows = []
    for run, reference, label in (
        (seq, 1 / LATENCY_S, "1/latency"),
        (fast, ceiling, "16/latency"),
        (limited, rate_limit, "server limit"),
    ):
        rows.append(
            [
                run.name,
                run.pages,
                run.deals,
                run.distinct,
                run.deals - run.distinct,
                run.fetch_s,
                run.pages_per_s,
                run.deals_per_s,
                run.pages_per_s / seq.pages_per_s,
                f"{run.pages_per_s / reference:.2f} of {label}",
                f"{100 * run.coverage:.3f}%",
                us_per_deal(run.cpu_s, run),
            ]
        )
    print(
        table(
            [
                "crawler",
                "pages",
                "records",
                "distinct",
                "duplicates",
                "fetch s",
                "pages/s",
                "deals/s",
                "× sequential",
                "vs ceiling",
                "coverage",
                "CPU µs/deal",
            ],
            rows,
        )
    )
    print(
        f"\nceiling: {IN_FLIGHT} in flight / {LATENCY_S * 1000:.0f} ms configured = {ceiling:.0f} pages/s; "
        f"/ {measured_latency * 1000:.1f} ms measured unloaded = {measured_ceiling:.0f} pages/s -> DQE at "
        f"{fast.pages_per_s / measured_ceiling:.2f} of the measured ceiling"
    )
    p50 = fast.parts["p50_latency_s"]
    print(
        f"DQE under load: p50 page latency {p50 * 1000:.1f} ms, mean in flight {fast.parts['in_flight']:.1f} "
        f"of {IN_FLIGHT} -> {fast.pages_per_s * p50 / IN_FLIGHT:.2f} of {IN_FLIGHT} / p50"
    )
    budget = budget_figures(seq, fast, limited, per_category, rate_limit)
    print_budget(seq, fast, limited, per_category, rate_limit, budget)
    kafka_rest = fast.cpu_s - fast.parts["fetch_parse"] - fast.parts["publish_call"]
    print(
        f"\nDQE CPU per deal: fetch+parse {us_per_deal(fast.parts['fetch_parse'], fast):.1f} µs, "
        f"publish call (orjson + send) {us_per_deal(fast.parts['publish_call'], fast):.1f} µs, "
        f"Kafka I/O threads + consumer + rest {us_per_deal(kafka_rest, fast):.1f} µs; "
        f"total {us_per_deal(fast.cpu_s, fast):.1f} µs (sequential, no Kafka: {us_per_deal(seq.cpu_s, seq):.1f} µs)"
    )
    metrics = {
        "catalog_deals": deals,
        "latency_s": LATENCY_S,
        "in_flight": IN_FLIGHT,
        "sequential_pages_per_s": seq.pages_per_s,
        "sequential_deals_per_s": seq.deals_per_s,
        "sequential_coverage": seq.coverage,
        "sequential_duplicates": seq.deals - seq.distinct,
        "dqe_pages_per_s": fast.pages_per_s,
        "dqe_deals_per_s": fast.deals_per_s,
        "dqe_coverage": fast.coverage,
        "dqe_duplicates": fast.deals - fast.distinct,
        "dqe_round_s": fast.total_s,
        "dqe_vs_sequential_pages": fast.pages_per_s / seq.pages_per_s,
        "dqe_vs_ceiling": fast.pages_per_s / ceiling,
        "measured_latency_s": measured_latency,
        "dqe_p50_latency_s": fast.parts["p50_latency_s"],
        "dqe_mean_in_flight": fast.parts["in_flight"],
        "dqe_vs_p50_ceiling": fast.pages_per_s * fast.parts["p50_latency_s"] / IN_FLIGHT,
        "dqe_vs_measured_ceiling": fast.pages_per_s / measured_ceiling,
        "rate_limit_per_s": rate_limit,
        "rate_limited_pages_per_s": limited.pages_per_s,
        "rate_limited_vs_limit": limited.pages_per_s / rate_limit,
        "rate_limited_coverage": limited.coverage,
        **budget,
        "dqe_cpu_us_per_deal": us_per_deal(fast.cpu_s, fast),
        "dqe_fetch_parse_cpu_us_per_deal": us_per_deal(fast.parts["fetch_parse"], fast),
        "dqe_publish_call_cpu_us_per_deal": us_per_deal(fast.parts["publish_call"], fast),
        "dqe_kafka_rest_cpu_us_per_deal": us_per_deal(kafka_rest, fast),
        "sequential_cpu_us_per_deal": us_per_deal(seq.cpu_s, seq),
    }
    metrics["load_avg_1m_before"] = load_before
    metrics["load_avg_1m_after"] = os.getloadavg()[0]
    print(
        f"\nload average (1 min) {load_before:.2f} before, {metrics['load_avg_1m_after']:.2f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    print(f"\nwrote {write_results('ingest', metrics)}")


if __name__ == "__main__":
    main()
