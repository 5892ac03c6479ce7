"""The live deals the simulated users interact with, read from Cassandra's `deals_by_id`.

A bounded read: at most `limit` rows in token order, which is a hash-random sample of the catalog,
re-read every `activity_deals_refresh_s` so new deals get traffic and expired ones stop getting it.
Deals already expired are skipped. This is a simulator-side read, not an API serving path.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from conf.settings import Settings
from ingest.activity.behaviour import LiveDeal

log = logging.getLogger(__name__)
LIVE_DEALS_CQL = (
    "SELECT deal_id, title, short_title, category_slug, merchant_id, merchant_name, price, discount_pct, "
    "latitude, longitude, expires_at FROM {ks}.deals_by_id LIMIT ?"
)


class LiveCatalog:
    """Reads a bounded sample of live deals through one prepared statement."""

    def __init__(self, session: Any, settings: Settings) -> None:
        self.session = session
        self.limit = settings.activity_deals_sample
        self.statement = session.prepare(LIVE_DEALS_CQL.format(ks=settings.keyspace))

    def read(self, now: datetime | None = None) -> list[LiveDeal]:
        moment = (now or datetime.now(UTC)).replace(tzinfo=None)
        rows = self.session.execute(self.statement, (self.limit,))
        candidates = [_deal(row) for row in rows if row.expires_at is None or row.expires_at > moment]
        deals = [d for d in candidates if d is not None]
        log.info("live catalog: %d deals", len(deals))
        return deals


def _deal(row: Any) -> LiveDeal | None:
    if row.price is None or row.category_slug is None:
        return None
    return LiveDeal(
        deal_id=row.deal_id, title=row.short_title or row.title, category_slug=row.category_slug,
        merchant_id=row.merchant_id, merchant_name=row.merchant_name, price=float(row.price),
        discount_pct=float(row.discount_pct or 0.0), latitude=row.latitude, longitude=row.longitude,
    )
