"""A user-event log with reviews for the review tests, and an independent plain-Python oracle of
every review and rating table (no Spark, no pipeline code; geohash from the pure-Python module).

The log holds: verified reviews; a review by a user who never bought the deal; a user who reviews
twice (the latest counts); a review written before its author bought the deal; a purchase received
100 s late whose review had already arrived (verified once the purchase is seen); a deal with one
review; a merchant with deals in two categories; a deal without a merchant; a duplicated review and
a malformed one; random browsing around them, so map cells pass the anonymity floor; and two reviewers
in a fourth town, whose cells stay under it.
"""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from pipeline.cells import geohash
from pipeline.taxonomy import PARENT_OF
from tests.activity_log import TOWNS, LoggedEvent

BASE = datetime(2026, 1, 5, 10, 58, 30)
PRIOR_WEIGHT = 5  # the README's prior: 5 reviews at the category mean
NEUTRAL = 3.0
#: deal id -> (category, merchant id or None)
DEALS = {2001: ("restaurants", 700), 2002: ("restaurants", 700), 2003: ("bars-clubs", 701),
         2004: ("yoga", 700), 2005: ("spa", None), 2006: ("restaurants", 702)}
#: Deals the random browsing touches (2002 keeps its one review, 2006 its single unverified review).
FILLER_DEALS = (2001, 2003, 2004, 2005)


#: Users of the fourth town (TOWNS[3]): too few for any of its map cells to be shown.
SMALL_TOWN_USERS = (16, 17)


def _event(i: int, kind: str, user: int, deal: int, at: float, *, stars: int | None = None,
           lag_s: float = 0.2) -> LoggedEvent:
    category, merchant = DEALS[deal]
    lat, lon = TOWNS[3] if user in SMALL_TOWN_USERS else TOWNS[user % 3]
    occurred = BASE + timedelta(seconds=at)
    payload: dict[str, Any] = {
        "event_id": f"r-{i:04d}", "event_type": kind, "occurred_at": occurred.isoformat(timespec="milliseconds") + "Z",
        "user_id": user, "user_name": f"Name{user} Surname", "user_city": "Town", "lat": lat, "lon": lon,
        "deal_id": deal, "deal_title": f"Deal {deal}", "category_slug": category, "merchant_id": merchant,
        "merchant_name": None if merchant is None else f"Merchant {merchant}", "price": 10.0,
    }
    if kind == "purchase":
        payload["quantity"] = 1
    if stars is not None:
        payload |= {"rating": stars, "review_text": f"Text of r-{i:04d}"}
    return LoggedEvent(payload, occurred, occurred + timedelta(seconds=lag_s))


def _scripted() -> list[LoggedEvent]:
    """(kind, user, deal, seconds after BASE, stars, lag) of every case the docstring names."""
    script: list[tuple[str, int, int, float, int | None, float]] = [
        *[("purchase", u, 2001, 2.0 * u, None, 0.2) for u in range(1, 7)],
        *[("review", u, 2001, 30.0 + 3 * u, s, 0.2) for u, s in zip(range(1, 7), (5, 4, 4, 2, 5, 3), strict=True)],
        ("review", 7, 2001, 50.0, 1, 0.2),                               # never bought: unverified
        ("review", 1, 2001, 90.0, 2, 0.2),                               # user 1 again: the latest counts
        ("purchase", 8, 2002, 10.0, None, 0.2), ("review", 8, 2002, 60.0, 4, 0.2),  # one review
        ("review", 9, 2003, 20.0, 5, 0.2), ("purchase", 9, 2003, 40.0, None, 0.2),  # reviewed before buying
        ("purchase", 10, 2003, 5.0, None, 0.2), ("review", 10, 2003, 25.0, 3, 0.2),
        ("purchase", 11, 2003, 15.0, None, 100.0), ("review", 11, 2003, 45.0, 4, 0.2),  # purchase arrives late
        ("purchase", 12, 2004, 8.0, None, 0.2), ("review", 12, 2004, 70.0, 5, 0.2),
        ("purchase", 13, 2004, 9.0, None, 0.2), ("review", 13, 2004, 75.0, 4, 0.2),
        ("purchase", 14, 2005, 11.0, None, 0.2), ("review", 14, 2005, 80.0, 2, 0.2),  # no merchant
        ("review", 15, 2006, 85.0, 5, 0.2),                              # a deal with only an unverified review
        *[(kind, u, 2004, at + u, stars, 0.2) for u in SMALL_TOWN_USERS  # reviews in cells under the floor
          for kind, at, stars in (("purchase", 12.0, None), ("review", 60.0, 3))],
    ]
    return [_event(i, kind, user, deal, at, stars=stars, lag_s=lag)
            for i, (kind, user, deal, at, stars, lag) in enumerate(script)]


def review_log(*, seed: int = 18, filler: int = 150) -> list[LoggedEvent]:
    """The scripted cases plus `filler` random events (reviews among them), sorted by receipt."""
    rng, log = random.Random(seed), _scripted()
    for i in range(filler):
        kind = rng.choice(("view", "view", "click", "purchase", "review"))
        stars = rng.randint(1, 5) if kind == "review" else None
        log.append(_event(1000 + i, kind, 20 + rng.randrange(21), rng.choice(FILLER_DEALS), rng.uniform(0, 170),
                          stars=stars))
    duplicate = next(e for e in log if isinstance(e.payload, dict) and e.payload["event_type"] == "review")
    log.append(LoggedEvent(duplicate.payload, duplicate.occurred, duplicate.received + timedelta(seconds=3)))
    log.append(_event(9999, "review", 2, 2001, 1.0, stars=9))  # malformed: a dead letter, never counted
    return sorted(log, key=lambda e: e.received)


# -- the oracle ------------------------------------------------------------------------------------

def _valid(log: list[LoggedEvent]) -> list[dict[str, Any]]:
    events = [e.payload for e in log if isinstance(e.payload, dict) and 1 <= (e.payload.get("rating") or 1) <= 5]
    return list({p["event_id"]: p for p in events}.values())


def _at(p: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(p["occurred_at"].rstrip("Z"))


def latest_reviews(log: list[LoggedEvent]) -> dict[tuple[int, int], dict[str, Any]]:
    """(deal, user) -> the latest review, with `verified`: bought at or before the review."""
    bought: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    for p in _valid(log):
        key = (p["deal_id"], p["user_id"])
        if p["event_type"] == "purchase":
            bought[key].append(_at(p))
        elif p["event_type"] == "review" and (key not in latest or
                                              (_at(p), p["event_id"]) > (_at(latest[key]), latest[key]["event_id"])):
            latest[key] = p
    return {k: {**p, "verified": any(t <= _at(p) for t in bought[k])} for k, p in latest.items()}


def _sums(reviews: list[dict[str, Any]]) -> dict[str, Any]:
    verified = [r["rating"] for r in reviews if r["verified"]]
    stars = sum(verified)
    return {"reviews": len(verified), "stars": stars, "mean": stars / len(verified) if verified else None,
            "distribution": tuple(verified.count(s) for s in range(1, 6)),
            "unverified": sum(1 for r in reviews if not r["verified"])}


def deal_ratings(log: list[LoggedEvent]) -> dict[int, dict[str, Any]]:
    by_deal: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (deal, _user), review in latest_reviews(log).items():
        by_deal[deal].append(review)
    return {deal: {**_sums(rs), "category": DEALS[deal][0], "merchant": DEALS[deal][1]} for deal, rs in by_deal.items()}


def _listing(category: str) -> set[str]:
    return {category, PARENT_OF[category]}


def merchant_ratings(log: list[LoggedEvent]) -> dict[int, dict[str, Any]]:
    by_merchant: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for review in latest_reviews(log).values():
        if review["merchant_id"] is not None:
            by_merchant[review["merchant_id"]].append(review)
    return {m: {**_sums(rs), "rated_deals": len({r["deal_id"] for r in rs if r["verified"]})}
            for m, rs in by_merchant.items()}


def merchant_category_ratings(log: list[LoggedEvent]) -> dict[tuple[str, int], dict[str, Any]]:
    grouped: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for review in latest_reviews(log).values():
        if review["merchant_id"] is not None:
            for slug in _listing(review["category_slug"]):
                grouped[(slug, review["merchant_id"])].append(review)
    return {k: {**_sums(rs), "rated_deals": len({r["deal_id"] for r in rs if r["verified"]})}
            for k, rs in grouped.items()}


def priors(log: list[LoggedEvent]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for review in latest_reviews(log).values():
        for slug in _listing(review["category_slug"]):
            grouped[slug].append(review)
    return {slug: _sums(rs) for slug, rs in grouped.items()}


def adjusted(reviews: int, stars: int, prior: dict[str, Any] | None) -> float:
    """(PRIOR_WEIGHT x prior mean + stars) / (PRIOR_WEIGHT + reviews), 4 decimals, as the README defines it."""
    mean = prior["stars"] / prior["reviews"] if prior and prior["reviews"] else NEUTRAL
    return round((PRIOR_WEIGHT * mean + stars) / (PRIOR_WEIGHT + reviews), 4)


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int((moment - datetime(1970, 1, 1)).total_seconds())
    return datetime(1970, 1, 1) + timedelta(seconds=epoch - epoch % seconds)


def cell_ratings(log: list[LoggedEvent], lateness_s: float, min_users: int) -> set[tuple[Any, ...]]:
    """(precision, region, hour, cell, users, reviews, stars, average) of on-time events' cells over the floor."""
    cells: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [set(), 0, 0])
    seen: set[str] = set()
    for e in log:
        p = e.payload
        if not isinstance(p, dict) or not 1 <= (p.get("rating") or 1) <= 5 or p["event_id"] in seen:
            continue
        if (e.received - e.occurred).total_seconds() > lateness_s:
            continue
        seen.add(p["event_id"])
        cell5 = geohash(p["lat"], p["lon"], 5)
        for precision in (3, 4, 5):
            row = cells[(precision, cell5[:2], _floor(e.occurred, 3600), cell5[:precision])]
            row[0].add(p["user_id"])
            if p["event_type"] == "review":
                row[1], row[2] = row[1] + 1, row[2] + p["rating"]
    return {(*k, len(users), n, stars, stars / n) for k, (users, n, stars) in cells.items()
            if len(users) >= min_users and n}
