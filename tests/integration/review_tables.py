"""Snapshots of the review tables, and the same shape built from the plain-Python oracle."""
from __future__ import annotations

from typing import Any

from tests import review_log as oracle
from tests.activity_log import LoggedEvent

SNAPSHOT = {
    "purchases_by_deal": "deal_id, user_id, occurred_at",
    "reviews_by_deal": "deal_id, user_id, occurred_at, event_id, rating, verified",
    "review_feed_by_deal": "deal_id, occurred_at, user_id, event_id, rating, review_text, user_name, verified",
    "review_feed_by_merchant": "merchant_id, occurred_at, deal_id, user_id, event_id, rating, review_text, user_name, "
                               "verified",
    "ratings_by_deal": "deal_id, category_slug, parent_category, merchant_id, reviews, stars, mean, distribution, "
                       "unverified_reviews",
    "deal_ratings_by_category": "category_slug, deal_id, deal_category, reviews, stars, mean, distribution, "
                                "unverified_reviews",
    "deal_ratings_by_merchant": "merchant_id, deal_id, reviews, stars, mean, distribution, unverified_reviews",
    "ratings_by_merchant": "merchant_id, rated_deals, reviews, stars, mean, distribution, unverified_reviews",
    "merchant_ratings_by_category": "category_slug, merchant_id, rated_deals, reviews, stars, mean, distribution, "
                                    "unverified_reviews",
    "rating_priors_by_category": "category_slug, reviews, stars, mean",
    "ratings_by_cell": "precision, region, hour, cell, users, reviews, stars, average_rating",
}


def snapshot(session: Any, keyspace: str) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every review table (a small test keyspace: full reads are the point)."""
    return {table: {tuple(tuple(v) if isinstance(v, list) else v for v in row)
                    for row in session.execute(f"SELECT {cols} FROM {keyspace}.{table}")}
            for table, cols in SNAPSHOT.items()}


def _rating(r: dict[str, Any]) -> tuple[Any, ...]:
    return r["reviews"], r["stars"], r["mean"], r["distribution"]


def expected(log: list[LoggedEvent], lateness_s: float, floor: int) -> dict[str, set[tuple[Any, ...]]]:
    """What every review table must hold after the log, computed without the pipeline."""
    reviews = oracle.latest_reviews(log)
    purchases = {(p["deal_id"], p["user_id"], oracle._at(p)) for p in oracle._valid(log)
                 if p["event_type"] == "purchase"}
    deals = oracle.deal_ratings(log)
    return {
        "purchases_by_deal": purchases,
        "reviews_by_deal": {(d, u, oracle._at(r), r["event_id"], r["rating"], r["verified"])
                            for (d, u), r in reviews.items()},
        "review_feed_by_deal": {(d, oracle._at(r), u, r["event_id"], r["rating"], f"Text of {r['event_id']}",
                                 f"Name{u} S.", r["verified"]) for (d, u), r in reviews.items()},
        "review_feed_by_merchant": {(r["merchant_id"], oracle._at(r), d, u, r["event_id"], r["rating"],
                                     f"Text of {r['event_id']}", f"Name{u} S.", r["verified"])
                                    for (d, u), r in reviews.items() if r["merchant_id"] is not None},
        "ratings_by_deal": {(d, r["category"], oracle.PARENT_OF[r["category"]], r["merchant"], *_rating(r),
                             r["unverified"]) for d, r in deals.items()},
        "deal_ratings_by_category": {(slug, d, r["category"], *_rating(r), r["unverified"]) for d, r in deals.items()
                                     for slug in {r["category"], oracle.PARENT_OF[r["category"]]}},
        "deal_ratings_by_merchant": {(r["merchant"], d, *_rating(r), r["unverified"]) for d, r in deals.items()
                                     if r["merchant"] is not None},
        "ratings_by_merchant": {(m, r["rated_deals"], *_rating(r), r["unverified"])
                                for m, r in oracle.merchant_ratings(log).items()},
        "merchant_ratings_by_category": {(slug, m, r["rated_deals"], *_rating(r), r["unverified"])
                                         for (slug, m), r in oracle.merchant_category_ratings(log).items()},
        "rating_priors_by_category": {(slug, r["reviews"], r["stars"], r["mean"])
                                      for slug, r in oracle.priors(log).items()},
        "ratings_by_cell": oracle.cell_ratings(log, lateness_s, floor),
    }
