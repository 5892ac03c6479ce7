"""Deal search: which partitions a search reads, in what order, and where a page ends.

Two ways to run a search, both bounded by `settings.api_scan_limit` rows read:

* **ordered** (BEST_DISCOUNT, CHEAPEST): the order is a table's clustering order, so each listed
  partition (one category, or the 7 top-level categories) is read from the cursor's position on and
  the partitions are merged lazily. A one-category page is one CQL request when the filters the
  table cannot apply (price on the discount table, etc.) drop few rows.
* **ranked** (BIGGEST_SAVING, or any sort with `near`): the rows are read (geohash-4 cells around
  the circle, or the category partitions), filtered, and sorted in memory. When the bound cuts the
  read short, the page says so (`exhaustive: false`).
"""
from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql_api.cursors import Position
from graphql_api.deal import saving_of
from graphql_api.inputs import VERIFIED_SORTS, DealQuery, DealSort
from graphql_api.repository import Page, Repository, Row
from pipeline.cells import haversine_km
from pipeline.taxonomy import PARENT_OF, PARENTS

Fetch = Callable[[int, bytes | None], Awaitable[Page]]
OrderKey = tuple[float, int]
HIGHEST = 1e308  # open upper bound of a double clustering range
#: Sorts that read online_deals_by_category when `online: true` (it is ordered by discount only).
ONLINE_TABLE_SORTS = frozenset({DealSort.BEST_DISCOUNT, DealSort.BIGGEST_SAVING, DealSort.NEAREST})


@dataclass(slots=True)
class Hit:
    """A row that matched, with its sort value (what the cursor stores)."""

    value: float
    row: Row


@dataclass
class SearchPage:
    hits: list[Hit]
    has_next: bool
    end: Position | None  # position of the last row considered (for a page cut short by the bound)
    exhaustive: bool


@dataclass
class SortedStream:
    """Rows of one partition in clustering order, fetched page by page on demand.

    Each page is twice the previous one (up to `max_page_size`): a page that filters or ties skip
    costs a few reads, not one read per `first` rows (a tied cursor once walked 1,000 reads)."""

    fetch: Fetch
    page_size: int
    max_page_size: int | None = None
    rows: deque[Row] = field(default_factory=deque)
    state: bytes | None = None
    done: bool = False

    async def fill(self) -> None:
        if self.rows or self.done:
            return
        page = await self.fetch(self.page_size, self.state)
        self.rows.extend(page.rows)
        self.state = page.paging_state
        self.done = self.state is None or not page.rows
        self.page_size = min(self.page_size * 2, self.max_page_size or self.page_size * 2)


def stream_reads(first_page: int, scan_limit: int) -> int:
    """The most fetches one SortedStream makes before `scan_limit` rows are read (pages doubling),
    plus the one that finds the partition's end."""
    reads, read, page = 0, 0, first_page
    while read < scan_limit:
        reads, read, page = reads + 1, read + page, page * 2
    return reads + 1


def sort_value(sort: DealSort, row: Row) -> float:
    """The value a row is ordered by (distance is computed by the near filter)."""
    if sort is DealSort.BEST_DISCOUNT:
        return row["discount_pct"]
    if sort is DealSort.CHEAPEST:
        return row["price"]
    if sort is DealSort.BIGGEST_SAVING:
        return saving_of(row)
    if sort is DealSort.VERIFIED_DISCOUNT:
        return row["verified_discount_pct"]
    if sort is DealSort.BIGGEST_VERIFIED_SAVING:
        return row["verified_saving"]
    return row["distance_km"]


def order_key(sort: DealSort, value: float, deal_id: int) -> OrderKey:
    """Ascending key of the result order: descending sorts negate the value; ties by deal id."""
    descending = sort in (DealSort.BEST_DISCOUNT, DealSort.BIGGEST_SAVING, *VERIFIED_SORTS)
    return (-value if descending else value, deal_id)


# -- filters the tables cannot apply ------------------------------------------------------------------

def row_filter(query: DealQuery) -> Callable[[Row], bool]:
    """The conditions checked in Python on each row read (the CQL range applies the sort column's)."""
    category, text, near = query.category, query.text, query.near
    max_price = HIGHEST if query.max_price is None else query.max_price

    def accept(row: Row) -> bool:
        if not (query.min_price <= row["price"] <= max_price and row["discount_pct"] >= query.min_discount):
            return False
        if row.get("verified_discount_pct", 1.0) < query.min_verified_discount:
            return False
        if query.online is not None and row["online"] is not query.online:
            return False
        slug = row.get("category_slug")
        if category is not None and slug is not None and category not in (slug, PARENT_OF.get(slug)):
            return False
        if text is not None and not _mentions(row, text):
            return False
        if near is not None:
            row["distance_km"] = haversine_km(near.lat, near.lon, row["latitude"], row["longitude"])
            return bool(row["distance_km"] <= near.radius_km)
        return True

    return accept


def _mentions(row: Row, text: str) -> bool:
    return text in row["title"].lower() or text in (row["merchant_name"] or "").lower()


# -- which partitions ---------------------------------------------------------------------------------

def partitions(query: DealQuery) -> list[str]:
    """The partition keys a search without `near` reads: categories, or top-level ones for online."""
    cats = [query.category] if query.category else list(PARENTS)
    if query.online and query.sort in ONLINE_TABLE_SORTS:
        return list(dict.fromkeys(PARENT_OF[c] for c in cats))
    return cats


def _streams(repo: Repository, query: DealQuery, page_size: int, scan_limit: int) -> list[SortedStream]:
    """One stream per partition, ranged from the cursor on when the table is in the result order."""
    keys = partitions(query)
    resume = query.after[0] if query.after else None

    def stream(fetch: Fetch) -> SortedStream:
        return SortedStream(fetch, page_size, max_page_size=scan_limit)

    if query.sort in VERIFIED_SORTS:
        return [stream(_by_verified(repo, query, c, resume)) for c in keys]
    if query.online and query.sort in ONLINE_TABLE_SORTS:
        high = resume if resume is not None and query.sort is DealSort.BEST_DISCOUNT else HIGHEST

        def online(parent: str) -> Fetch:
            return lambda size, state: _online(repo, parent, query.min_discount, high, size, state)

        return [stream(online(p)) for p in keys]
    if query.sort is DealSort.CHEAPEST:
        low = max(query.min_price, resume) if resume is not None else query.min_price
        high = HIGHEST if query.max_price is None else query.max_price
        return [stream(_by_price(repo, c, low, high)) for c in keys]
    high = resume if resume is not None and query.sort is DealSort.BEST_DISCOUNT else HIGHEST
    return [stream(_by_discount(repo, c, query.min_discount, high)) for c in keys]


async def _online(repo: Repository, parent: str, low: float, high: float, size: int,
                  state: bytes | None) -> Page:
    page = await repo.online_deals_by_category(parent, low, high, page_size=size, paging_state=state)
    for row in page.rows:
        row["online"] = True
    return page


def _by_verified(repo: Repository, query: DealQuery, category: str, resume: float | None) -> Fetch:
    """A verified-sort partition (issue 12), from the cursor's value on."""
    high = HIGHEST if resume is None else resume
    if query.sort is DealSort.VERIFIED_DISCOUNT:
        return lambda size, state: repo.deals_by_category_verified_discount(
            category, query.min_verified_discount, high, page_size=size, paging_state=state)
    return lambda size, state: repo.deals_by_category_verified_saving(category, high, page_size=size,
                                                                       paging_state=state)


def _by_price(repo: Repository, category: str, low: float, high: float) -> Fetch:
    return lambda size, state: repo.deals_by_category_price(category, low, high, page_size=size,
                                                             paging_state=state)


def _by_discount(repo: Repository, category: str, low: float, high: float) -> Fetch:
    return lambda size, state: repo.deals_by_category_discount(category, low, high, page_size=size,
                                                                paging_state=state)


# -- running a search ---------------------------------------------------------------------------------

async def search(repo: Repository, query: DealQuery, scan_limit: int) -> SearchPage:
    """One page of `query`: at most `first` hits and whether more follow."""
    if query.near is not None:
        return await _ranked_near(repo, query, scan_limit)
    streams = _streams(repo, query, first_page_size(query, scan_limit), scan_limit)
    if query.sort is DealSort.BIGGEST_SAVING:
        return await _ranked(streams, query, scan_limit)
    return await walk_ordered(streams, query, scan_limit)


def first_page_size(query: DealQuery, scan_limit: int) -> int:
    """Rows of each partition's first read: what the page needs, more when Python filters rows."""
    if query.sort is DealSort.BIGGEST_SAVING:
        return min(scan_limit, 500)
    if query.text is not None:
        # a text filter may match nothing: read the scan's share of each partition at once
        return math.ceil(scan_limit / len(partitions(query)))
    want = query.first + 1
    return min(scan_limit, want * 3 if _filters_in_python(query) else want)


def read_bound(query: DealQuery, scan_limit: int) -> int:
    """The most CQL requests `search(query)` sends: the cells of `near`, or each partition's pages."""
    if query.near is not None:
        return 0 if query.online else len(query.near.cells)
    return len(partitions(query)) * stream_reads(first_page_size(query, scan_limit), scan_limit)


def _filters_in_python(query: DealQuery) -> bool:
    """Whether rows of the chosen table may fail the filter (then pages are read 3x larger)."""
    if query.text is not None or query.online is not None:
        return True
    if query.sort is DealSort.CHEAPEST:
        return query.min_discount > 0
    if query.sort is DealSort.BIGGEST_VERIFIED_SAVING and query.min_verified_discount > 0:
        return True
    return query.min_price > 0 or query.max_price is not None or (query.sort in VERIFIED_SORTS
                                                                   and query.min_discount > 0)


async def walk_ordered(streams: list[SortedStream], query: DealQuery, scan_limit: int) -> SearchPage:
    """Merge partitions in result order from the cursor on, until first + 1 hits or the bound."""
    sort, accept = query.sort, row_filter(query)
    after = None if query.after is None else order_key(sort, *query.after)
    await asyncio.gather(*(s.fill() for s in streams))
    hits: list[Hit] = []
    scanned, last, popped = 0, None, None
    while len(hits) <= query.first:
        if popped is not None:
            await popped.fill()  # only now: a full page must not trigger a fetch past its end
        live = [s for s in streams if s.rows]
        if not live:
            return SearchPage(hits, False, None, True)
        if scanned >= scan_limit:
            return SearchPage(hits[: query.first], True, last or query.after, False)
        popped = min(live, key=lambda s: order_key(sort, sort_value(sort, s.rows[0]), s.rows[0]["deal_id"]))
        row = popped.rows.popleft()
        scanned += 1
        value = sort_value(sort, row)
        if after is None or order_key(sort, value, row["deal_id"]) > after:
            last = (value, row["deal_id"])
            if accept(row):
                hits.append(Hit(value, row))
    return SearchPage(hits[: query.first], True, None, True)


async def _ranked(streams: list[SortedStream], query: DealQuery, scan_limit: int) -> SearchPage:
    """Read up to the bound, keep matching rows after the cursor, sort them in memory."""
    rows, exhaustive = await _read_bounded(streams, scan_limit)
    return _rank(rows, query, exhaustive)


async def _read_bounded(streams: list[SortedStream], scan_limit: int) -> tuple[list[Row], bool]:
    rows: list[Row] = []
    pending = list(streams)
    while pending and len(rows) < scan_limit:
        await asyncio.gather(*(s.fill() for s in pending))
        for stream in pending:
            rows.extend(stream.rows)
            stream.rows.clear()
        pending = [s for s in pending if not s.done]
    return rows[:scan_limit], not pending and len(rows) <= scan_limit


def _rank(rows: list[Row], query: DealQuery, exhaustive: bool) -> SearchPage:
    sort, accept = query.sort, row_filter(query)
    after = None if query.after is None else order_key(sort, *query.after)
    keyed = []
    for row in rows:
        if accept(row):
            value = sort_value(sort, row)
            key = order_key(sort, value, row["deal_id"])
            if after is None or key > after:
                keyed.append((key, Hit(value, row)))
    keyed.sort(key=lambda pair: pair[0])
    hits = [hit for _, hit in keyed[: query.first + 1]]
    return SearchPage(hits[: query.first], len(hits) > query.first, None, exhaustive)


async def _ranked_near(repo: Repository, query: DealQuery, scan_limit: int) -> SearchPage:
    """Deals within the circle: read every covering geohash-4 cell, keep those inside the radius."""
    assert query.near is not None
    if query.online:
        return SearchPage([], False, None, True)  # online deals have no location
    cells = query.near.cells
    per_cell = max(1, math.ceil(scan_limit / len(cells)))
    pages = await asyncio.gather(*(repo.deals_by_geocell(cell, limit=per_cell) for cell in cells))
    rows: list[Any] = []
    for page in pages:
        for row in page:
            row["online"] = False
        rows.extend(page)
    return _rank(rows, query, exhaustive=all(len(page) < per_cell for page in pages))
