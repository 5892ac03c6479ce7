"""`Rating` (issue 18): a row of a rating table and the prior of its adjusted value.

A rating row holds exact sums (verified reviews, their stars, each star's count); the adjusted
rating is the Bayesian average of `pipeline.review_rules`, applied here to the row and the current
prior of its category (or of the platform), so every adjusted value shares one up-to-date prior.
"""
from __future__ import annotations

from collections.abc import Iterable

import strawberry

from graphql_api.repository import Row
from pipeline.review_rules import NEUTRAL_MEAN, PRIOR_WEIGHT, adjusted_rating, prior_mean

DECIMALS = 4


def prior_of(rows: Iterable[Row | None]) -> float:
    """The prior mean of one category's row, or of several combined (the platform: every top-level one)."""
    present = [r for r in rows if r is not None]
    return prior_mean(sum(r["reviews"] or 0 for r in present), sum(r["stars"] or 0 for r in present))


def adjusted_of(row: Row, prior: float) -> float:
    return round(adjusted_rating(row["reviews"], row["stars"], prior), DECIMALS)


@strawberry.type(description="Stars from verified-purchase reviews only (the latest review of each user counts).")
class Rating:
    adjusted: float = strawberry.field(description=(
        f"Bayesian average: ({PRIOR_WEIGHT} x priorMean + sum of stars) / ({PRIOR_WEIGHT} + count), so few "
        "reviews are pulled toward the category's mean (4 decimals)."))
    mean: float = strawberry.field(description="Mean stars of the verified reviews (4 decimals).")
    count: int = strawberry.field(description="Verified reviews counted.")
    distribution: list[int] = strawberry.field(description="Verified reviews with 1, 2, 3, 4 and 5 stars.")
    unverified_count: int = strawberry.field(description="Reviews by users who had not bought the deal: not counted.")
    prior_mean: float = strawberry.field(description=(
        f"Mean of every verified review of the category (a merchant overall: of the platform); {NEUTRAL_MEAN} "
        "before any."))

    @classmethod
    def from_row(cls, row: Row | None, prior: float) -> Rating | None:
        """The rating of a row of a rating table; None without a verified review."""
        if row is None or not row["reviews"]:
            return None
        return cls(adjusted=adjusted_of(row, prior), mean=round(row["mean"], DECIMALS), count=row["reviews"],
                   distribution=list(row["distribution"]), unverified_count=row["unverified_reviews"] or 0,
                   prior_mean=round(prior, DECIMALS))
