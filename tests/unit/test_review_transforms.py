"""Review transforms on small inline frames: who is verified, which review counts, what a rating sums."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline import activity_schemas as s
from pipeline import review_schemas as rs
from pipeline import review_transforms as rt
from tests.frames import assert_frames_equal

T0 = datetime(2026, 1, 5, 12, 0, 0)


def _event(event_id: str, kind: str, user: int, deal: int, seconds: int, stars: int | None = None,
           category: str = "yoga", merchant: int | None = 9) -> tuple[Any, ...]:
    fields = {"event_id": event_id, "event_type": kind, "occurred_at": T0 + timedelta(seconds=seconds),
              "received_at": T0 + timedelta(seconds=seconds), "user_id": user, "user_name": f"U{user} X.",
              "deal_id": deal, "category_slug": category, "parent_category": "fitness", "merchant_id": merchant,
              "merchant_name": None if merchant is None else f"M{merchant}", "rating": stars,
              "quantity": 1 if kind == "purchase" else None, "review_text": None if stars is None else "ok"}
    return tuple(fields.get(f.name) for f in s.ACTIVITY_EVENT_SCHEMA)


EVENTS = [
    _event("p1", "purchase", 1, 10, 0), _event("r1", "review", 1, 10, 5, 4), _event("r1b", "review", 1, 10, 9, 2),
    _event("r2", "review", 2, 10, 6, 5),                                            # never bought
    _event("r3", "review", 3, 10, 7, 3), _event("p3", "purchase", 3, 10, 8),       # bought after reviewing
    _event("p4", "purchase", 4, 11, 1), _event("r4", "review", 4, 11, 2, 5),       # another deal, same merchant
]


def _judged(spark: Any, without: str | None = None) -> Any:
    events_df = spark.createDataFrame([e for e in EVENTS if e[0] != without], s.ACTIVITY_EVENT_SCHEMA)
    return rt.judge_reviews(rt.latest_reviews(rt.to_review_rows(events_df)), rt.to_purchase_rows(events_df))


def test_the_latest_review_of_each_user_counts_and_only_buyers_are_verified(spark: Any) -> None:
    got = _judged(spark).select("deal_id", "user_id", "event_id", "verified")
    want = [(10, 1, "r1b", True), (10, 2, "r2", False), (10, 3, "r3", False), (11, 4, "r4", True)]
    assert_frames_equal(got, spark.createDataFrame(want, "deal_id long, user_id long, event_id string, "
                                                         "verified boolean"))


def test_deal_and_merchant_ratings_sum_the_verified_reviews(spark: Any) -> None:
    deals_df = rt.to_deal_rating_rows(_judged(spark))
    want_deals = [(10, "yoga", "fitness", 9, "M9", 1, 2, 2.0, [0, 1, 0, 0, 0], 2),
                  (11, "yoga", "fitness", 9, "M9", 1, 5, 5.0, [0, 0, 0, 0, 1], 0)]
    assert_frames_equal(deals_df, spark.createDataFrame(want_deals, rs.RATINGS_BY_DEAL_SCHEMA))
    merchant_df = rt.to_ratings_by_merchant_rows(rt.to_deal_ratings_by_merchant_rows(deals_df))
    want_merchant = [(9, "M9", 2, 2, 7, 3.5, [0, 1, 0, 0, 1], 2)]
    assert_frames_equal(merchant_df, spark.createDataFrame(want_merchant, rs.RATINGS_BY_MERCHANT_SCHEMA))
    priors_df = rt.to_rating_prior_rows(rt.to_deal_ratings_by_category_rows(deals_df))
    want_priors = [("yoga", 2, 7, 3.5), ("fitness", 2, 7, 3.5)]
    assert_frames_equal(priors_df, spark.createDataFrame(want_priors, rs.RATING_PRIORS_BY_CATEGORY_SCHEMA))


def test_only_changed_reviews_are_written_and_replaced_feed_rows_are_found(spark: Any) -> None:
    stored_df = _judged(spark, without="r1b")  # what an earlier batch stored: r1 was then user 1's latest
    flagged_df = rt.flag_changed_reviews(_judged(spark), stored_df)
    changed_df = rt.changed_reviews(flagged_df)
    assert [r["event_id"] for r in changed_df.collect()] == ["r1b"]
    assert sorted(r["event_id"] for r in rt.reviews_of_changed_deals(flagged_df).collect()) == ["r1b", "r2", "r3"]
    replaced = rt.replaced_feed_keys(stored_df, changed_df).collect()
    assert [(r["deal_id"], r["user_id"], r["occurred_at"], r["merchant_id"]) for r in replaced] == [
        (10, 1, T0 + timedelta(seconds=5), 9)]


def test_overlay_puts_fresh_rows_in_place_of_stored_ones_with_the_same_key(spark: Any) -> None:
    schema = "category_slug string, deal_id long, reviews int"
    stored_df = spark.createDataFrame([("yoga", 10, 1), ("yoga", 11, 2), ("golf", 10, 3)], schema)
    fresh_df = spark.createDataFrame([("yoga", 11, 5), ("yoga", 12, 1)], schema)
    got = rt.overlay(stored_df, fresh_df, ("category_slug", "deal_id"))
    want = [("yoga", 10, 1), ("yoga", 11, 5), ("golf", 10, 3), ("yoga", 12, 1)]  # golf's deal 10 is another row
    assert_frames_equal(got, spark.createDataFrame(want, schema))
