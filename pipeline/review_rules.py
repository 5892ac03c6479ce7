"""The adjusted rating: a Bayesian average, written once in plain Python (no Spark import).

    adjusted = (PRIOR_WEIGHT x prior_mean + stars) / (PRIOR_WEIGHT + reviews)

`stars` is the sum of the stars of the verified reviews and `reviews` their number, so the mean
of a deal with few reviews is pulled toward `prior_mean`, the mean of every verified review of
its category, as if it had PRIOR_WEIGHT more reviews at that mean; with many reviews its own mean
dominates. A merchant's overall rating is shrunk toward the platform mean (every category).

The prior moves whenever any deal of the category is reviewed, so a stored adjusted value would go
stale on every deal not reviewed since: the pipeline stores the exact sums (per deal, merchant and
category) and the API applies this formula to the row and its category's current prior when it reads.
"""
from __future__ import annotations

#: How many reviews at the category mean the prior is worth.
PRIOR_WEIGHT = 5
#: The prior mean when a category (or the platform) has no verified review yet: the middle of 1..5.
NEUTRAL_MEAN = 3.0
STARS = (1, 2, 3, 4, 5)


def prior_mean(reviews: int, stars: int) -> float:
    """The mean of the prior's reviews; NEUTRAL_MEAN when there are none."""
    return stars / reviews if reviews else NEUTRAL_MEAN


def adjusted_rating(reviews: int, stars: int, prior: float) -> float:
    """The Bayesian average of `reviews` reviews totalling `stars`, shrunk toward `prior`."""
    return (PRIOR_WEIGHT * prior + stars) / (PRIOR_WEIGHT + reviews)
