"""Recommendations: the signed-in user's stored list kept fresh at read time, and trending-near-a-point.

The stored list is the newest training's rows of `recommendations_by_user` (bound from the token's
user only). Each deal is re-read from deals_by_id: an expired or vanished deal is dropped, a deal
bought since the training is dropped, and a moved price re-ranks it (score x trained price / current
price, within x0.5..x2). When fewer than `first` remain, the list is filled from near the user (the
`near` point, else their home): the popular deals of the point's area and its 8 neighbours
(popular_deals_by_area), weighted by distance, then live deals near the point that no list holds yet
(deals_by_geocell) — new deals reach users that way until the next training. Anonymous callers get
the fill alone. Scores are on the blend's scale: (w x ALS + (1 - w) x area popularity) x distance penalty.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from conf.settings import Settings
from graphql_api.context import Context
from graphql_api.convert import HISTORY_MONTHS, months_back
from graphql_api.deal import Deal
from graphql_api.errors import InvalidInput
from graphql_api.inputs import Near, NearInput, parse_first, parse_near
from graphql_api.repository import Row
from pipeline.cells import cells_covering, geohash, haversine_km, neighbours
from pipeline.definitions import AREA_PRECISION
from pipeline.taxonomy import CATEGORY_NAMES

PRICE_FACTOR_BOUNDS = (0.5, 2.0)
#: Northernmost latitude whose fallback circle is read in full (the cost estimate's bound on cells).
BOUND_LATITUDE = 72.0
DEFAULT_FIRST = 10
#: The fill reads this many candidates' deals per deal it needs (some may have expired since training).
FILL_LOADS = 2


@strawberry.type(description="A deal recommended to someone, with why and how strongly.")
class Recommendation:
    deal: Deal = strawberry.field(description="The deal, as it is now (expired deals are never listed).")
    reason: str = strawberry.field(description='Why: "because you bought …", "popular near you", "new in yoga".')
    score: float = strawberry.field(description="Relevance, higher first (the blend's scale, re-ranked by price).")


@dataclass(slots=True)
class Pick:
    deal_id: int
    score: float
    reason: str
    price: float | None = None  # the deal's price when its list was computed
    new_since: datetime | None = None  # a deal created after this (the newest training) is "new in …"


def fallback_cells(settings: Settings) -> int:
    """The most geohash-4 cells the fill reads around a user's home (its cost bound)."""
    return len(cells_covering(BOUND_LATITUDE, 0.0, settings.recommend_fallback_radius_km))


def _near(near: NearInput | None, settings: Settings) -> Near | None:
    if near is None:
        return None
    try:
        return parse_near(near, settings)
    except InvalidInput as exc:  # the shared parser names the search's path: name this argument's
        raise InvalidInput(exc.field.replace("filter.near", "near"), str(exc).split(": ", 1)[1]) from exc


def _circle(lat: float, lon: float, settings: Settings) -> Near:
    cells = tuple(cells_covering(lat, lon, settings.recommend_fallback_radius_km))[:fallback_cells(settings)]
    return Near(lat=lat, lon=lon, radius_km=settings.recommend_fallback_radius_km, cells=cells)


def _penalty(near: Near, lat: float | None, lon: float | None, settings: Settings) -> float:
    if lat is None or lon is None:
        return settings.recommend_online_penalty
    return 1.0 / (1.0 + (haversine_km(near.lat, near.lon, lat, lon) / settings.recommend_distance_km) ** 2)


def _is_live(row: Row | None, now: datetime) -> bool:
    return row is not None and (row["expires_at"] is None or row["expires_at"] > now)


def _repriced(pick: Pick, row: Row) -> float:
    if not pick.price or not row["price"]:
        return pick.score
    low, high = PRICE_FACTOR_BOUNDS
    return pick.score * min(high, max(low, pick.price / row["price"]))


def _newest(rows: list[Row]) -> list[Row]:
    """The rows of the newest training (a partition holds a few, newest first)."""
    return [r for r in rows if r["trained_at"] == rows[0]["trained_at"]] if rows else []


async def _area_picks(ctx: Context, near: Near) -> tuple[list[Pick], datetime | None]:
    """Popular deals of the point's area and its neighbours, by popularity x distance; the newest training."""
    settings, area = ctx.settings, geohash(near.lat, near.lon, AREA_PRECISION)
    reads = [ctx.repository.popular_in_area(a, limit=settings.recommend_top_n) for a in (area, *neighbours(area))]
    weight, picks, trained = 1 - settings.recommend_als_weight, [], None
    for rows in map(_newest, await asyncio.gather(*reads)):
        if rows:
            trained = max(trained or rows[0]["trained_at"], rows[0]["trained_at"])
            best = rows[0]["score"] or 1.0
            picks += [Pick(r["deal_id"], weight * r["score"] / best * _penalty(near, r["latitude"], r["longitude"],
                                                                              settings), "popular near you", r["price"])
                      for r in rows]
    return picks, trained


async def _cell_picks(ctx: Context, near: Near, trained: datetime | None) -> list[Pick]:
    """Deals inside the circle, by distance (the cold-start prior of a deal no list knows)."""
    settings = ctx.settings
    limit = max(1, settings.api_scan_limit // max(1, len(near.cells)))
    prior = (1 - settings.recommend_als_weight) * settings.recommend_new_deal_prior
    picks = []
    for rows in await asyncio.gather(*(ctx.repository.deals_by_geocell(c, limit=limit) for c in near.cells)):
        for r in rows:
            if haversine_km(near.lat, near.lon, r["latitude"], r["longitude"]) <= near.radius_km:
                picks.append(Pick(r["deal_id"], prior * _penalty(near, r["latitude"], r["longitude"], settings),
                                  "near you", r["price"], trained))
    return picks


async def _live_best(ctx: Context, picks: list[Pick], need: int, exclude: set[int], *,
                     max_loads: int | None = None) -> list[Recommendation]:
    """The best `need` of `picks` that are live now, re-ranked by their current price; only the best
    `max_loads` are read from deals_by_id (the fill's bound), all of them when None (a stored list)."""
    best: dict[int, Pick] = {}
    for pick in picks:
        if pick.deal_id not in exclude and (pick.deal_id not in best or pick.score > best[pick.deal_id].score):
            best[pick.deal_id] = pick
    ordered = sorted(best.values(), key=lambda p: (-p.score, p.deal_id))[:max_loads]
    rows = await asyncio.gather(*(ctx.deals.load(p.deal_id) for p in ordered))
    now = datetime.now(UTC).replace(tzinfo=None)
    live = [(_repriced(p, row), p, row) for p, row in zip(ordered, rows, strict=True)
            if row is not None and _is_live(row, now)]
    live.sort(key=lambda item: (-item[0], item[1].deal_id))
    return [Recommendation(deal=Deal.from_row(row), reason=_reason(p, row), score=score)
            for score, p, row in live[:need]]


def _reason(pick: Pick, row: Row) -> str:
    created = row["created_at"]
    if pick.new_since is None or created is None or created <= pick.new_since:
        return pick.reason
    return f"new in {CATEGORY_NAMES.get(row['category_slug'], 'your area').lower()}"


async def nearby(ctx: Context, near: Near, need: int, exclude: set[int]) -> list[Recommendation]:
    """Trending near a point: the area's popular deals first, then what else is near (new deals)."""
    area, trained = await _area_picks(ctx, near)
    picks = area + await _cell_picks(ctx, near, trained)
    return await _live_best(ctx, picks, need, exclude, max_loads=FILL_LOADS * need)


async def _bought_lately(ctx: Context, user_id: int) -> set[int]:
    months = months_back(datetime.now(UTC), HISTORY_MONTHS)
    reads = [ctx.repository.user_purchases(user_id, m, limit=ctx.settings.api_scan_limit) for m in months]
    return {r["deal_id"] for rows in await asyncio.gather(*reads) for r in rows}


async def for_user(ctx: Context, user_id: int, first: int, near_input: NearInput | None) -> list[Recommendation]:
    """The signed-in user's list: stored, fresh, filled from near them when short."""
    size, near = parse_first(first), _near(near_input, ctx.settings)
    stored_rows, bought = await asyncio.gather(
        ctx.repository.recommendations(user_id, limit=ctx.settings.recommend_top_n), _bought_lately(ctx, user_id))
    rows = _newest(stored_rows)
    stored = [Pick(r["deal_id"], r["score"], r["reason"], r["price"]) for r in rows]
    found = await _live_best(ctx, stored, size, bought)
    if len(found) < size:
        if near is None and rows and rows[0]["home_latitude"] is not None:
            near = _circle(rows[0]["home_latitude"], rows[0]["home_longitude"], ctx.settings)
        if near is not None:
            listed = bought | {int(r.deal.id) for r in found}
            found += await nearby(ctx, near, size - len(found), listed)
    return found


async def recommendations(
    info: Info[Context, None],
    near: Annotated[NearInput, strawberry.argument(description="Where: the point and the radius of the fill.")],
    first: Annotated[int, strawberry.argument(description="How many, 1..100.")] = DEFAULT_FIRST,
) -> list[Recommendation]:
    """Trending near a point, for anyone (no token needed)."""
    size, circle = parse_first(first), _near(near, info.context.settings)
    assert circle is not None
    return await nearby(info.context, circle, size, set())
