"""Resolvers of the live activity fields: validate, read window partitions concurrently, build types.

`at` (default: now) is the moment the answer is about; windows are aligned like the pipeline's
buckets, so `trending(TEN_SECONDS)` sums the 1 s bucket holding `at` and the nine before it. Public
activity is readable for a recent window only (`EXS_API_PUBLIC_WINDOW_S`, 24 h by default): an `at`
further back (or in the future) is an input error, so the history cannot be scraped by moving `at`.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from strawberry.types import Info

from conf.settings import Settings
from graphql_api.activity import (
    TREND_BUCKETS,
    ActivityCell,
    ActivityMap,
    BBoxInput,
    MerchantSales,
    Purchase,
    SalesSecond,
    TrendingCategory,
    TrendWindow,
)
from graphql_api.context import Context
from graphql_api.errors import InvalidInput
from graphql_api.inputs import parse_category, parse_first
from graphql_api.repository import Repository
from pipeline import cells
from pipeline.definitions import CELL_PRECISIONS, REGION_PRECISION

TREND_FIELDS = ("score", "views", "clicks", "purchases", "reviews")
MAX_TIMELINE_S = 300
FEED_MINUTES_BACK = 10
MAX_REGIONS = 64
MIN_EVERY_S, MAX_EVERY_S = 0.2, 60.0

At = Annotated[datetime | None, strawberry.argument(description="The moment asked about (default: now).")]


#: Clock skew allowed between a client and the API for `at`.
FUTURE_TOLERANCE = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _moment(at: datetime | None, settings: Settings) -> datetime:
    """`at` (or now) as a naive UTC datetime, as the driver binds timestamps; InvalidInput outside
    the public window (a time the calendar cannot shift to UTC, such as year 1 at +01:00, included)."""
    if at is None:
        return _now()
    now = datetime.now(UTC)
    oldest = now - timedelta(seconds=settings.api_public_window_s)
    try:
        moment = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    except OverflowError:
        moment = None
    if moment is None or not oldest <= moment <= now + FUTURE_TOLERANCE:
        raise InvalidInput("at", f"must be within the last {settings.api_public_window_s / 3600:g} h "
                                 f"(after {oldest:%Y-%m-%dT%H:%M:%SZ}), found {at.isoformat()}")
    return moment.replace(tzinfo=None)


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.replace(tzinfo=UTC).timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC).replace(tzinfo=None)


async def load_trending(repo: Repository, window: TrendWindow, first: int, moment: datetime) -> list[TrendingCategory]:
    """Sum the window's buckets per category; best score first (ties by slug)."""
    size, count = TREND_BUCKETS[window]
    newest = _floor(moment, size)
    buckets = await asyncio.gather(*(repo.trend_bucket(size, newest - timedelta(seconds=size * i))
                                     for i in range(count)))
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TREND_FIELDS, 0))
    for rows in buckets:
        for row in rows:
            for name in TREND_FIELDS:
                totals[row["category_slug"]][name] += row[name] or 0
    ranked = sorted(totals.items(), key=lambda item: (-item[1]["score"], item[0]))
    return [TrendingCategory.from_totals(slug, sums) for slug, sums in ranked[:first]]


async def trending(
    info: Info[Context, None],
    window: Annotated[TrendWindow, strawberry.argument(description="How far back to look.")] = TrendWindow.ONE_MINUTE,
    first: Annotated[int, strawberry.argument(description="How many categories, 1..100.")] = 10,
    at: At = None,
) -> list[TrendingCategory]:
    ctx = info.context
    return await load_trending(ctx.repository, window, parse_first(first), _moment(at, ctx.settings))


async def sales_timeline(
    info: Info[Context, None],
    last: Annotated[int, strawberry.argument(description=f"Seconds to return, 1..{MAX_TIMELINE_S}.")] = 60,
    at: At = None,
) -> list[SalesSecond]:
    if not 1 <= last <= MAX_TIMELINE_S:
        raise InvalidInput("last", f"must be between 1 and {MAX_TIMELINE_S}, found {last}")
    newest = _floor(_moment(at, info.context.settings), 1)
    seconds = [newest - timedelta(seconds=i) for i in range(last - 1, -1, -1)]
    minutes = sorted({_floor(s, 60) for s in seconds})
    pages = await asyncio.gather(*(info.context.repository.sales_minute(m) for m in minutes))
    by_second = {row["second"]: row for rows in pages for row in rows}
    return [SalesSecond.from_row(second.replace(tzinfo=UTC), by_second.get(second)) for second in seconds]


async def purchase_feed(
    info: Info[Context, None],
    first: Annotated[int, strawberry.argument(description="How many purchases, 1..100.")] = 20,
    at: At = None,
) -> list[Purchase]:
    """The newest purchases, reading back minute by minute (at most FEED_MINUTES_BACK minutes)."""
    size, minute = parse_first(first), _floor(_moment(at, info.context.settings), 60)
    found: list[Purchase] = []
    for back in range(FEED_MINUTES_BACK):
        rows = await info.context.repository.purchases_minute(minute - timedelta(minutes=back), limit=size - len(found))
        found += [Purchase.from_row(row) for row in rows]
        if len(found) >= size:
            break
    return found


def _parse_bbox(bbox: BBoxInput) -> BBoxInput:
    for name, value, limit in (("south", bbox.south, 90), ("north", bbox.north, 90),
                               ("west", bbox.west, 180), ("east", bbox.east, 180)):
        if not -limit <= value <= limit:
            raise InvalidInput(f"bbox.{name}", f"must be between -{limit} and {limit}, found {value}")
    if bbox.north <= bbox.south:
        raise InvalidInput("bbox.north", f"must be above bbox.south ({bbox.south}), found {bbox.north}")
    if bbox.east <= bbox.west:
        raise InvalidInput("bbox.east", f"must be above bbox.west ({bbox.west}), found {bbox.east}")
    return bbox


def regions_covering(bbox: BBoxInput) -> list[str]:
    """The geohash-2 regions (11.25 x 5.625 degrees) that intersect the box."""
    lats, lons = cells.box_slices(bbox.south, bbox.west, bbox.north, bbox.east, REGION_PRECISION)
    if len(lats) * len(lons) > MAX_REGIONS:
        raise InvalidInput("bbox", f"spans {len(lats) * len(lons)} map regions; at most {MAX_REGIONS} "
                                   "(about a continent) per request")
    return [cells.encode(i, j, REGION_PRECISION) for j in lats for i in lons]


async def _cells(repo: Repository, precision: int, regions: list[str], hour: datetime, floor: int,
                 bbox: BBoxInput) -> list[ActivityCell]:
    pages, rated = await asyncio.gather(
        asyncio.gather(*(repo.activity_cells(precision, region, hour) for region in regions)),
        asyncio.gather(*(repo.cell_ratings(precision, region, hour) for region in regions)))  # issue 18
    stars = {r["cell"]: round(r["average_rating"], 4) for rows in rated for r in rows if r["reviews"]}
    found = []
    for row in (r for rows in pages for r in rows):
        lat, lon = cells.cell_centre(row["cell"])
        # The pipeline never writes a cell under the floor; checking again costs nothing.
        if row["users"] >= floor and bbox.south <= lat <= bbox.north and bbox.west <= lon <= bbox.east:
            found.append(ActivityCell(geohash=row["cell"], latitude=round(lat, 5), longitude=round(lon, 5),
                                      users=row["users"], events=row["events"], purchases=row["purchases"],
                                      average_rating=stars.get(row["cell"])))
    return sorted(found, key=lambda c: (-c.users, c.geohash))


async def activity_map(
    info: Info[Context, None],
    bbox: Annotated[BBoxInput, strawberry.argument(description="The part of the map to return.")],
    precision: Annotated[int, strawberry.argument(description="Geohash precision: 3 (~156 km), 4 (~39 km) "
                                                              "or 5 (~4.9 km).")] = 4,
    at: At = None,
) -> ActivityMap:
    """Cells of the current hour; until the first cells of a new hour pass the floor, the previous hour."""
    if precision not in CELL_PRECISIONS:
        raise InvalidInput("precision", f"must be one of {', '.join(map(str, CELL_PRECISIONS))}, found {precision}")
    box, ctx = _parse_bbox(bbox), info.context
    regions, floor = regions_covering(box), ctx.settings.activity_min_users_per_cell
    hour = _floor(_moment(at, ctx.settings), 3600)
    cells = await _cells(ctx.repository, precision, regions, hour, floor, box)
    if not cells:
        hour -= timedelta(hours=1)
        cells = await _cells(ctx.repository, precision, regions, hour, floor, box)
    return ActivityMap(hour=hour.replace(tzinfo=UTC), precision=precision, min_users=floor, cells=cells)


async def load_live_sales(repo: Repository, category: str, moment: datetime) -> dict[int, MerchantSales]:
    """Today's live sales per merchant of a category (hours summed)."""
    rows = await repo.merchant_sales(category, moment.strftime("%Y-%m-%d"))
    sums: dict[int, MerchantSales] = {}
    for row in rows:
        seen = sums.setdefault(row["merchant_id"], MerchantSales(
            id=strawberry.ID(str(row["merchant_id"])), name=row["merchant_name"], purchases=0, units=0, revenue=0.0))
        seen.purchases += row["purchases"] or 0
        seen.units += row["units"] or 0
        seen.revenue = round(seen.revenue + (row["revenue"] or 0.0), 2)
    return sums


async def top_sellers(
    info: Info[Context, None],
    category: Annotated[str, strawberry.argument(description="Category slug (a parent includes its children).")],
    first: Annotated[int, strawberry.argument(description="How many merchants, 1..100.")] = 10,
    at: At = None,
) -> list[MerchantSales]:
    slug, size = parse_category(category, field="category"), parse_first(first)
    sums = await load_live_sales(info.context.repository, slug, _moment(at, info.context.settings))
    return sorted(sums.values(), key=lambda m: (-m.units, -m.revenue, int(m.id)))[:size]


@strawberry.type(description="Live updates over graphql-transport-ws.")
class Subscription:
    @strawberry.subscription(description="`trending`, pushed every `everySeconds` (0.2..60). Subscribers with "
                                         "the same arguments share one read per tick; a connection ends after "
                                         "the server's maximum lifetime.")
    async def trending(
        self, info: Info[Context, None],
        window: Annotated[TrendWindow, strawberry.argument(description="How far back to look.")]
        = TrendWindow.TEN_SECONDS,
        first: Annotated[int, strawberry.argument(description="How many categories, 1..100.")] = 10,
        every_seconds: Annotated[float, strawberry.argument(description="Seconds between updates.")] = 1.0,
    ) -> AsyncGenerator[list[TrendingCategory], None]:
        size = parse_first(first)
        if not MIN_EVERY_S <= every_seconds <= MAX_EVERY_S:
            raise InvalidInput("everySeconds",
                               f"must be between {MIN_EVERY_S} and {MAX_EVERY_S}, found {every_seconds}")
        repo = info.context.repository

        async def load() -> list[TrendingCategory]:
            return await load_trending(repo, window, size, _now())

        # one read per tick per distinct argument set, however many sockets subscribe to it
        async for update in info.context.feeds.updates(("trending", window, size, every_seconds), load,
                                                       every_seconds):
            yield update
