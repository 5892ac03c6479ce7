"""Stage 1 of the Async DQE: per category, read `total`, plan exactly the pages it implies, publish.

Small categories are packed into listings (`category_slugs=a,b`) so their short last pages merge into full
ones, at most `plan_listing_deals` deals each (500 by default: at most 5 pages, within one work message,
fetched together, so churn shifts few of its pages between requests; on the simulator's catalog 500 fills
pages as well as 800 or 1000 do). No page is planned for growth: a full last page makes its fetcher plan a
continuation.

Totals are read concurrently (one small request per category). The snapshot time is the API server's
own clock (its `Date` header), so the next incremental round's `updated_after` does not depend on ours.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaProducer
from kafka.errors import KafkaError

from conf import Settings
from ingest.api_model import DealsPage, DealsQuery, iso_z
from ingest.client import DealsClient
from ingest.errors import PublishError, UnknownCategory
from ingest.work import WorkMessage, chunk_pages, group_listings, pages_needed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    run: str
    snapshot: datetime
    updated_after: datetime | None
    totals: dict[str, int]
    messages: list[WorkMessage] = field(repr=False)
    overall_total: int

    @property
    def pages(self) -> int:
        return sum(len(m.pages) for m in self.messages)

    @property
    def empty_categories(self) -> list[str]:
        return sorted(c for c, total in self.totals.items() if total == 0)

    def summary(self) -> str:
        kind = f"incremental since {iso_z(self.updated_after)}" if self.updated_after else "full"
        listings = len({m.category for m in self.messages})
        return (
            f"plan {self.run} ({kind}, snapshot {iso_z(self.snapshot)}): {len(self.totals)} categories, "
            f"{sum(self.totals.values())} deals reported, {self.pages} pages of {listings} listings in "
            f"{len(self.messages)} work messages; {len(self.empty_categories)} empty categories skipped"
        )


def make_plan(
    settings: Settings,
    client: DealsClient,
    *,
    categories: list[str] | None = None,
    updated_after: datetime | None = None,
) -> Plan:
    """Read totals and cut pages into work messages (no Kafka here)."""
    known = [c.slug for c in client.categories()]
    wanted = categories or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise UnknownCategory(f"unknown category slugs {unknown}; the API lists {len(known)}: {known}")
    with ThreadPoolExecutor(max_workers=min(settings.fetcher_threads, len(wanted) + 1)) as pool:
        overall = pool.submit(_probe, client, None, updated_after)
        pages = dict(zip(wanted, pool.map(lambda c: _probe(client, c, updated_after), wanted), strict=True))
    overall_page = overall.result()
    snapshot = overall_page.server_time or datetime.now(UTC)
    totals = {c: page.total for c, page in pages.items()}
    _warn_uncovered(totals, overall_page.total, categories is None)
    run = uuid.uuid4().hex[:12]
    messages = [
        message
        for listing in group_listings(totals, settings.deals_per_page, settings.plan_listing_deals)
        for message in _messages(settings, run, listing, sum(totals[c] for c in listing), snapshot, updated_after)
    ]
    for category in (c for c, total in totals.items() if total == 0):
        log.info("category %r is empty (total 0): nothing to fetch", category)
    return Plan(run, snapshot, updated_after, totals, messages, overall_page.total)


def _probe(client: DealsClient, category: str | None, updated_after: datetime | None) -> DealsPage:
    return client.deals(
        DealsQuery(per_page=1, category_slugs=(category,) if category else (), updated_after=updated_after)
    )


def _messages(
    settings: Settings,
    run: str,
    listing: tuple[str, ...],
    total: int,
    snapshot: datetime,
    updated_after: datetime | None,
) -> list[WorkMessage]:
    n_pages = pages_needed(total, settings.deals_per_page)
    return [
        WorkMessage(
            run=run,
            category=",".join(listing),
            pages=pages,
            per_page=settings.deals_per_page,
            snapshot=iso_z(snapshot),
            updated_after=iso_z(updated_after) if updated_after else None,
            last_planned=n_pages,
        )
        for pages in chunk_pages(n_pages, settings.pages_per_chunk)
    ]


def _warn_uncovered(totals: dict[str, int], overall: int, all_categories: bool) -> None:
    """Deals filed under a slug that /categories does not list would never be crawled: say so."""
    covered = sum(totals.values())
    if all_categories and overall > covered * 1.01 + 10:
        log.warning(
            "categories cover %d deals but the API reports %d overall: some deals sit in unlisted "
            "categories and will not be crawled",
            covered,
            overall,
        )


def publish_plan(settings: Settings, producer: KafkaProducer, plan: Plan) -> None:
    """Send every work message keyed by category and wait for all acknowledgements."""
    futures = [
        producer.send(settings.topic_deal_pages, key=m.category.encode(), value=m.to_bytes()) for m in plan.messages
    ]
    producer.flush()
    try:
        for future in futures:
            future.get(timeout=30)
    except KafkaError as exc:
        raise PublishError(f"publishing plan {plan.run} to {settings.topic_deal_pages} failed: {exc}") from exc
    log.info("%s", plan.summary())
