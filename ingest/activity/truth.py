"""The activity simulator's ground truth: how likely each user is to look at each live deal.

The behaviour model (behaviour.py) draws a user's next fresh view in two steps: a category (one of
their interests with probability INTEREST_SHARE, else by popularity) and then a deal of that
category weighted by nearness to their town. `ViewOdds` computes that probability exactly (hour
boosts averaged out) from the same seeded users and the same constants, so a recommender can be
measured against the best ranking anyone could make: the ceiling the bench calls the oracle.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ingest.activity.behaviour import INTEREST_SHARE, LiveDeal, nearness
from ingest.activity.population import User, category_popularity

#: Popularity of a category the model does not list (behaviour.py uses the same floor).
UNLISTED_POPULARITY = 0.01


class ViewOdds:
    """P(a user's next fresh view is of deal d), for every live deal, by the simulator's own rules."""

    def __init__(self, deals: Sequence[LiveDeal]) -> None:
        self.by_category: dict[str, list[LiveDeal]] = defaultdict(list)
        for deal in deals:
            self.by_category[deal.category_slug].append(deal)
        popularity = category_popularity()
        self.popularity = {c: popularity.get(c, UNLISTED_POPULARITY) for c in self.by_category}
        self.total_popularity = sum(self.popularity.values())
        self._town: dict[tuple[str, str], dict[int, float]] = {}  # P(deal | its category) per town

    def category_odds(self, user: User) -> dict[str, float]:
        """P(the next fresh view is in each category)."""
        offered = [c for c in user.interests if self.by_category.get(c)]
        by_popularity = {c: p / self.total_popularity for c, p in self.popularity.items()}
        if not offered:
            return by_popularity
        odds = {c: (1 - INTEREST_SHARE) * p for c, p in by_popularity.items()}
        for slug in offered:
            odds[slug] += INTEREST_SHARE / len(offered)
        return odds

    def _within_category(self, user: User) -> dict[int, float]:
        key = (user.city.name, user.city.region)  # nearness is measured from the user's town
        if key not in self._town:
            odds: dict[int, float] = {}
            for deals in self.by_category.values():
                weights = [nearness(user, d) for d in deals]
                total = sum(weights)
                odds.update({d.deal_id: w / total for d, w in zip(deals, weights, strict=True)})
            self._town[key] = odds
        return self._town[key]

    def of(self, user: User) -> dict[int, float]:
        """deal id -> P(the user's next fresh view is of it); sums to 1 over the live deals."""
        categories, within = self.category_odds(user), self._within_category(user)
        return {d.deal_id: categories[slug] * within[d.deal_id]
                for slug, deals in self.by_category.items() for d in deals}
