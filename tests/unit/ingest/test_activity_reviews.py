"""The activity simulator's reviews: a known share from users who never bought the deal, with text."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from ingest.activity.behaviour import ActivityModel, LiveDeal
from ingest.activity.population import make_users


@cache
def _run(seed: int, share: float, ticks: int = 300) -> tuple[list[dict[str, Any]], ActivityModel]:
    deals = [LiveDeal(i, f"Deal {i}", "restaurants", 10 + i % 3, f"M {i % 3}", 20.0, 0.6, 40.7, -74.0)
             for i in range(1, 6)]
    model = ActivityModel(make_users(300, seed), deals, seed=seed, unverified_review_share=share)
    start, events = datetime(2026, 1, 5, 17, 0, tzinfo=UTC), []
    for tick in range(ticks):
        events += model.next_events(start + timedelta(seconds=2 * tick), 60)
    return events, model


def _unverified(events: list[dict[str, Any]]) -> tuple[int, int]:
    """(reviews, reviews whose author had not bought the deal before), from the events alone."""
    bought: set[tuple[int, int]] = set()
    reviews = unverified = 0
    for event in events:  # emitted in time order
        key = (event["user_id"], event["deal_id"])
        if event["event_type"] == "purchase":
            bought.add(key)
        elif event["event_type"] == "review":
            reviews += 1
            unverified += key not in bought
    return reviews, unverified


def test_a_seeded_share_of_reviews_comes_from_users_who_never_bought() -> None:
    events, model = _run(seed=5, share=0.25)
    reviews, unverified = _unverified(events)
    assert reviews > 150
    assert (model.reviews_sent, model.unverified_reviews_sent) == (reviews, unverified)
    assert 0.15 < unverified / reviews < 0.35  # binomial noise (sd ~0.035) around the configured 0.25


def test_without_the_share_every_review_is_verified() -> None:
    events, _ = _run(seed=5, share=0.0, ticks=100)
    reviews, unverified = _unverified(events)
    assert reviews > 0 and unverified == 0


def test_reviews_carry_stars_and_a_short_text_and_repeat_with_the_seed() -> None:
    events, _ = _run(seed=5, share=0.25)
    reviews = [e for e in events if e["event_type"] == "review"]
    assert reviews and all(1 <= r["rating"] <= 5 and 10 < len(r["review_text"]) < 200 for r in reviews)
    again, _ = _run.__wrapped__(seed=5, share=0.25, ticks=40)  # uncached: a fresh model, same seed
    assert [e for e in again if e["event_type"] == "review"] == [
        e for e in events[:len(again)] if e["event_type"] == "review"]
