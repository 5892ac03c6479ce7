"""A small world for the recommendation tests: deals in New York, Los Angeles and online, users in both
cities with a seeded history, and the plain-Python oracle of each area's popular deals.

New Yorkers only touch New York and online deals, Angelenos only Los Angeles ones; two New York deals
are popular but expired, and user 1 bought the most popular one.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.cells import geohash
from pipeline.definitions import AREA_PRECISION, INTERACTION_CONFIDENCE

NOW = datetime.now(UTC).replace(microsecond=0)
NYC, LA = (40.7128, -74.0060), (34.0522, -118.2437)
NYC_DEALS = list(range(5_000_001, 5_000_013))  # 12, merchants shared in pairs
LA_DEALS = list(range(5_000_101, 5_000_106))
ONLINE_DEALS = list(range(5_000_201, 5_000_204))
EXPIRED = (5_000_001, 5_000_002)
NYC_USERS, LA_USERS = list(range(1, 9)), list(range(11, 15))
BOUGHT_BY_1 = 5_000_003
SLUGS = ("yoga", "spa", "restaurants")
TOP_N, PER_MERCHANT = 6, 1
#: The training's settings for this world (a tiny ALS grid): what the tests and the cluster run use.
SETTINGS = {"recommend_top_n": TOP_N, "recommend_per_merchant": PER_MERCHANT, "recommend_als_ranks": (2, 3),
            "recommend_als_reg_params": (0.1,), "recommend_als_iterations": 3, "recommend_candidates": 50,
            "recommend_taste_weights": (0.0, 0.5)}


def _deal(deal_id: int, place: tuple[float, float] | None, merchant_id: int, rng: random.Random) -> dict[str, Any]:
    value = round(rng.uniform(40, 200), 2)
    price = round(value * 0.5, 2)
    merchant: dict[str, Any] = {"id": merchant_id, "name": f"Shop {merchant_id}", "country": "United States",
                                "latitude": None, "longitude": None}
    if place is not None:
        merchant |= {"latitude": round(place[0] + rng.uniform(-0.05, 0.05), 6),
                     "longitude": round(place[1] + rng.uniform(-0.05, 0.05), 6), "locality": "Town"}
    expires = NOW - timedelta(hours=1) if deal_id in EXPIRED else NOW + timedelta(days=30)
    return {"id": deal_id, "title": f"Deal {deal_id}", "short_title": f"Deal {deal_id}", "price": price,
            "value": value, "discount_amount": round(value - price, 2), "discount_percentage": 0.5,
            "category_slug": SLUGS[deal_id % 3], "category_name": SLUGS[deal_id % 3], "online": place is None,
            "provider_name": "Groupon", "provider_slug": "groupon", "expires_at": _iso(expires),
            "created_at": _iso(NOW - timedelta(days=5)), "updated_at": _iso(NOW - timedelta(days=1)),
            "url": "http://x.example", "number_sold": 3, "merchant": merchant}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def deal_payloads() -> list[dict[str, Any]]:
    rng = random.Random(3)
    return ([_deal(d, NYC, 700 + (d - NYC_DEALS[0]) // 2, rng) for d in NYC_DEALS]
            + [_deal(d, LA, 800 + d % 100, rng) for d in LA_DEALS]
            + [_deal(d, None, 900 + d % 100, rng) for d in ONLINE_DEALS])


def seed_deals(session: Any, keyspace: str) -> None:
    """The payloads as the deals sink stores them in deals_by_id and deals_by_geocell, by plain CQL."""
    from cassandra.concurrent import execute_concurrent_with_args

    from pipeline.cells import GEOCELL_PRECISION
    from pipeline.taxonomy import PARENT_OF

    by_id, by_cell = [], []
    for p in deal_payloads():
        lat, lon, slug = p["merchant"]["latitude"], p["merchant"]["longitude"], p["category_slug"]
        at = {k: datetime.strptime(p[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("expires_at", "created_at", "updated_at")}
        cell = None if lat is None else geohash(lat, lon, GEOCELL_PRECISION)
        by_id.append((p["id"], p["title"], p["short_title"], p["price"], p["value"], 0.5, slug, PARENT_OF[slug],
                      p["online"], at["expires_at"], at["created_at"], at["updated_at"], p["merchant"]["id"],
                      p["merchant"]["name"], lat, lon, cell))
        if cell is not None:
            by_cell.append((cell, p["id"], lat, lon, slug, p["price"], p["value"], 0.5, p["title"], p["short_title"],
                            p["merchant"]["name"], at["expires_at"]))
    for cql, rows in (
        (f"INSERT INTO {keyspace}.deals_by_id (deal_id, title, short_title, price, value, discount_pct, "
         "category_slug, parent_category, online, expires_at, created_at, updated_at, merchant_id, merchant_name, "
         "latitude, longitude, geocell) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", by_id),
        (f"INSERT INTO {keyspace}.deals_by_geocell (geocell, deal_id, latitude, longitude, category_slug, price, "
         "value, discount_pct, title, short_title, merchant_name, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
         "?, ?)", by_cell),
    ):
        execute_concurrent_with_args(session, session.prepare(cql), rows, concurrency=32, raise_on_first_error=True)


def events() -> list[dict[str, Any]]:
    """Each user's history, oldest first; a deal's popularity falls with its index in the city list."""
    rng, out, n = random.Random(5), [], 0
    for user in NYC_USERS + LA_USERS:
        home = NYC if user in NYC_USERS else LA
        pool = (NYC_DEALS + ONLINE_DEALS) if user in NYC_USERS else LA_DEALS
        for step in range(14):
            deal = pool[min(int(rng.expovariate(0.35)), len(pool) - 1)]
            kind = rng.choice(("view", "view", "view", "click"))
            out.append(_event(n, user, home, deal, kind, NOW - timedelta(hours=30 - step * 2)))
            n += 1
    out.append(_event(n, 1, NYC, BOUGHT_BY_1, "purchase", NOW - timedelta(hours=1)))
    return out


def _event(n: int, user: int, home: tuple[float, float], deal: int, kind: str, at: datetime) -> dict[str, Any]:
    event = {"event_id": f"rec-{n}", "event_type": kind, "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
             "user_id": user, "user_name": f"User {user}", "user_city": "Town", "lat": home[0], "lon": home[1],
             "deal_id": deal, "deal_title": f"Deal {deal}", "category_slug": SLUGS[deal % 3],
             "merchant_id": None, "merchant_name": None, "price": 10.0}
    if kind == "purchase":
        event["quantity"] = 1
    return event


def expected_popular(payloads: list[dict[str, Any]], log: list[dict[str, Any]], *, half_life_s: float, top_n: int,
                     per_merchant: int) -> dict[str, list[tuple[int, float]]]:
    """area -> [(deal id, popularity)] best first: what popular_deals_by_area must hold."""
    homes = {e["user_id"]: geohash(e["lat"], e["lon"], AREA_PRECISION) for e in log}
    live = {p["id"]: p["merchant"]["id"] for p in payloads if p["id"] not in EXPIRED}
    score: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for e in log:
        at = datetime.strptime(e["occurred_at"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
        age = max(0.0, (NOW - at).total_seconds())
        score[homes[e["user_id"]]][e["deal_id"]] += INTERACTION_CONFIDENCE[e["event_type"]] * 0.5 ** (age / half_life_s)
    result = {}
    for area, deals in score.items():
        ranked, per = [], defaultdict(int)
        for deal, value in sorted(deals.items(), key=lambda kv: (-kv[1], kv[0])):
            if deal in live and per[live[deal]] < per_merchant:
                per[live[deal]] += 1
                ranked.append((deal, value))
        result[area] = ranked[:top_n]
    return result


# -- what a training over this world must have stored (the integration and cluster tests' checks) -----

def stored(session: Any, user: int) -> list[Any]:
    """`user`'s newest stored list (rows of recommendations_by_user of one training), best first."""
    rows = list(session.execute("SELECT * FROM recommendations_by_user WHERE user_id = %s", (user,)))
    return [r for r in rows if r.trained_at == rows[0].trained_at] if rows else []


def assert_area_popularity(session: Any, half_life_days: float) -> None:
    """popular_deals_by_area equals the plain-Python count over the world's events."""
    want = expected_popular(deal_payloads(), events(), half_life_s=half_life_days * 86_400, top_n=TOP_N,
                            per_merchant=PER_MERCHANT)
    for area, ranked in want.items():
        rows = list(session.execute("SELECT rank, deal_id, score FROM popular_deals_by_area WHERE area = %s", (area,)))
        assert [(r.rank, r.deal_id) for r in rows] == [(i + 1, d) for i, (d, _) in enumerate(ranked)]
        assert [r.score for r in rows] == pytest.approx([score for _, score in ranked])


def assert_diverse_lists(session: Any) -> None:
    """Every user has a ranked list of at most TOP_N deals, none expired or bought, at most PER_MERCHANT
    of a merchant, each with a reason and the user's home."""
    merchant_of = {p["id"]: p["merchant"]["id"] for p in deal_payloads()}
    for user in NYC_USERS + LA_USERS:
        rows = stored(session, user)
        assert rows, f"user {user} has no list"
        assert [r.rank for r in rows] == list(range(1, len(rows) + 1)) and len(rows) <= TOP_N
        assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)
        deals = {r.deal_id for r in rows}
        assert not deals & set(EXPIRED)
        assert max(Counter(merchant_of[d] for d in deals).values()) <= PER_MERCHANT
        home = NYC if user in NYC_USERS else LA
        assert (rows[0].home_latitude, rows[0].home_longitude) == home
        assert all(r.reason for r in rows)
    assert BOUGHT_BY_1 not in {r.deal_id for r in stored(session, 1)}


def assert_local_first(session: Any) -> None:
    """Angelenos' top three are Los Angeles deals."""
    for user in LA_USERS:
        assert {r.deal_id for r in stored(session, user)[:3]} <= set(LA_DEALS)
