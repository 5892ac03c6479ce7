"""`exstreamly simulate | plan | fetcher | crawl`: the ingestion commands (registered in the root cli.py)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click

from conf import Settings, load_settings
from conf.clients import KafkaUnavailable
from ingest.api_model import parse_iso
from ingest.errors import IngestError

log = logging.getLogger(__name__)
T = TypeVar("T")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _guard(action: Callable[[], T]) -> T:
    """Turn ingestion errors into one clear line and exit status 1."""
    try:
        return action()
    except (IngestError, KafkaUnavailable) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _since(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _settings(threads: int | None) -> Settings:
    return load_settings(**({"fetcher_threads": threads} if threads else {}))


@click.command("simulate")
@click.option("--host", default=None, help="Bind address [settings: simulator_host].")
@click.option("--port", type=int, default=None, help="Port; 0 picks a free one [settings: simulator_port].")
@click.option("--seed", type=int, default=None, help="Catalog and churn seed [settings: simulator_seed].")
@click.option("--deals", type=int, default=None, help="Live deals at start [settings: simulator_deals].")
@click.option(
    "--time-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second; 0 freezes the catalog.",
)
@click.option("--no-churn", is_flag=True, help="No new, changed or withdrawn deals (expiries still happen).")
@click.option("--latency-ms", type=float, default=0.0, show_default=True, help="Added to every /v2 answer.")
@click.option("--latency-jitter-ms", type=float, default=0.0, show_default=True, help="Uniform extra latency.")
@click.option("--rate-limit", type=float, default=0.0, show_default=True, help="Server requests/s; 0 = none.")
@click.option("--fault-429", type=float, default=0.0, show_default=True, help="Share answered 429 + Retry-After.")
@click.option("--fault-503", type=float, default=0.0, show_default=True, help="Share answered 503 (HTML page).")
@click.option("--fault-html", type=float, default=0.0, show_default=True, help="Share answered 200 text/html.")
@click.option("--fault-truncated", type=float, default=0.0, show_default=True, help="Share with cut JSON.")
@click.option("--fault-slow", type=float, default=0.0, show_default=True, help="Share delayed by --slow-s.")
@click.option("--slow-s", type=float, default=2.0, show_default=True)
@click.option("--drift", type=float, default=0.0, show_default=True, help="Share of pages slipped by one row.")
@click.option("--key", "keys", multiple=True, help="Accepted API keys [settings: deals_api_key].")
def simulate(
    host: str | None,
    port: int | None,
    seed: int | None,
    deals: int | None,
    time_scale: float,
    no_churn: bool,
    latency_ms: float,
    latency_jitter_ms: float,
    rate_limit: float,
    fault_429: float,
    fault_503: float,
    fault_html: float,
    fault_truncated: float,
    fault_slow: float,
    slow_s: float,
    drift: float,
    keys: tuple[str, ...],
) -> None:
    """Serve the Sqoot v2 simulator (a seeded, churning catalog) over HTTP until Ctrl-C.

    The API is under /v2 (deals, deals/{id}, categories, providers); the ground truth under /_truth
    (clock, live?at=T, live?from=A&to=B, deals/{id}, export).
    """
    from ingest.simulator import NO_CHURN, ChurnRates, FaultRates, SimConfig, Simulator
    from ingest.simulator.server import bind, serve_forever

    settings = load_settings()
    config = SimConfig(
        seed=settings.simulator_seed if seed is None else seed,
        deals=settings.simulator_deals if deals is None else deals,
        time_scale=time_scale,
        churn=NO_CHURN if no_churn else ChurnRates(),
        faults=FaultRates(
            rate_limited=fault_429,
            unavailable=fault_503,
            html=fault_html,
            truncated=fault_truncated,
            slow=fault_slow,
            slow_s=slow_s,
        ),
        latency_s=latency_ms / 1000,
        latency_jitter_s=latency_jitter_ms / 1000,
        rate_limit_per_s=rate_limit,
        drift=drift,
        keys=keys or (settings.deals_api_key.get_secret_value(),),
    )
    sock = bind(host or settings.simulator_host, settings.simulator_port if port is None else port)
    sim = Simulator(config)
    bound_host, bound_port = sock.getsockname()[:2]
    click.echo(
        f"simulator: {len(sim.catalog.live)} deals, seed {config.seed}, serving http://{bound_host}:{bound_port}/v2",
        err=True,
    )
    serve_forever(sim, sock)


@click.command("plan")
@click.option("--category", "categories", multiple=True, help="Only these category slugs (repeatable).")
@click.option("--since", help="Incremental: only deals updated after this ISO 8601 UTC time.")
def plan(categories: tuple[str, ...], since: str | None) -> None:
    """Stage 1 only: read per-category totals and publish page chunks to deal_pages."""
    from conf.clients import ensure_topics
    from ingest.client import DealsClient
    from ingest.kafka_io import ingest_topics, make_producer
    from ingest.planner import make_plan, publish_plan

    def action() -> None:
        settings = load_settings()
        ensure_topics(settings, ingest_topics(settings))
        with DealsClient(settings) as client:
            made = make_plan(settings, client, categories=list(categories) or None, updated_after=_since(since))
            producer = make_producer(settings)
            try:
                publish_plan(settings, producer, made)
            finally:
                producer.close()
        click.echo(made.summary())

    _guard(action)


@click.command("fetcher")
@click.option("--threads", type=int, default=None, help="Pages in flight [settings: fetcher_threads].")
def fetcher(threads: int | None) -> None:
    """Stage 2 only: one fetcher process of the consumer group; runs until SIGINT/SIGTERM."""
    from ingest.crawl import run_fetcher

    stop = _stop_on_signals()
    _guard(lambda: run_fetcher(_settings(threads), stop, threads=threads))


@click.command("crawl")
@click.option("--threads", type=int, default=None, help="Pages in flight [settings: fetcher_threads].")
@click.option("--category", "categories", multiple=True, help="Only these category slugs (repeatable).")
@click.option(
    "--every",
    "every_s",
    type=float,
    default=None,
    help="Repeat every SECONDS with updated_after (incremental refresh) until Ctrl-C.",
)
@click.option("--since", help="Start incremental: only deals updated after this ISO 8601 UTC time.")
def crawl(threads: int | None, categories: tuple[str, ...], every_s: float | None, since: str | None) -> None:
    """Plan and fetch (stages 1+2) in this process until the work is done; other `fetcher`s may help."""
    from ingest.crawl import crawl as run_crawl

    stop = _stop_on_signals()
    results = _guard(
        lambda: run_crawl(
            _settings(threads),
            stop,
            every_s=every_s,
            categories=list(categories) or None,
            since=_since(since),
            threads=threads,
        )
    )
    for result in results:
        counts = result.counts
        click.echo(
            f"{result.plan.summary()}\n  done in {result.elapsed_s:.1f} s: {counts.get('pages', 0)} pages, "
            f"{counts.get('deals', 0)} deals published, {counts.get('acked', 0)} acknowledged"
        )
        if result.plan.empty_categories:
            click.echo(f"  empty categories (nothing to fetch): {', '.join(result.plan.empty_categories)}")


COMMANDS = (simulate, plan, fetcher, crawl)
