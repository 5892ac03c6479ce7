"""The adjusted rating's arithmetic and the review feed's cursor order, without Spark or Cassandra."""
from __future__ import annotations

from datetime import datetime

import pytest

from graphql_api.errors import InvalidInput
from graphql_api.rating import Rating, prior_of
from graphql_api.reviews import _is_after, _position, review_cursor
from pipeline.review_rules import NEUTRAL_MEAN, PRIOR_WEIGHT, adjusted_rating


def test_few_reviews_are_pulled_toward_the_prior_and_many_are_not() -> None:
    assert adjusted_rating(1, 5, 3.0) == pytest.approx((PRIOR_WEIGHT * 3 + 5) / (PRIOR_WEIGHT + 1))
    assert abs(adjusted_rating(1000, 5000, 3.0) - 5.0) < 0.01
    assert adjusted_rating(0, 0, 4.2) == pytest.approx(4.2)


def test_the_prior_combines_rows_and_is_neutral_without_reviews() -> None:
    assert prior_of([None]) == NEUTRAL_MEAN
    assert prior_of([{"reviews": 2, "stars": 9}, None, {"reviews": 2, "stars": 7}]) == 4.0


def test_a_rating_needs_a_verified_review() -> None:
    row = {"reviews": 0, "stars": 0, "mean": None, "distribution": [0] * 5, "unverified_reviews": 3}
    assert Rating.from_row(row, 3.0) is None and Rating.from_row(None, 3.0) is None


def test_the_cursor_resumes_after_its_review_newest_first_ties_by_reviewer() -> None:
    at = datetime(2026, 1, 5, 11, 0, 0, 123000)
    position = _position(review_cursor({"occurred_at": at, "user_id": 7}))
    assert position == (at, 7)
    assert not _is_after({"occurred_at": at, "user_id": 7}, position)
    assert _is_after({"occurred_at": at, "user_id": 8}, position)
    assert _is_after({"occurred_at": datetime(2026, 1, 5, 11), "user_id": 1}, position)
    with pytest.raises(InvalidInput):
        _position("bm90IGEgY3Vyc29y")
