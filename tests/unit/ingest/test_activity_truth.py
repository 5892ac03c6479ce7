"""The activity simulator's truth (`ViewOdds`) against what the behaviour model actually does: the view
frequencies of a long seeded run match the computed odds."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from ingest.activity.behaviour import ActivityModel, LiveDeal
from ingest.activity.population import User, make_users, us_cities
from ingest.activity.truth import ViewOdds

# categories without hour boosts, so the odds do not depend on the time of day
DEALS = [LiveDeal(1, "Spa A", "spa", 1, "A", 10.0, 0.5, 40.71, -74.0),
         LiveDeal(2, "Spa B", "spa", 2, "B", 10.0, 0.5, 34.05, -118.24),
         LiveDeal(3, "Phone", "electronics", None, None, 99.0, 0.2, None, None),
         LiveDeal(4, "Dentist", "dental", 4, "D", 50.0, 0.3, 41.88, -87.63)]


def test_odds_sum_to_one_per_user() -> None:
    odds = ViewOdds(DEALS)
    for user in make_users(20, seed=3):
        assert sum(odds.of(user).values()) == pytest.approx(1.0)


def test_view_frequencies_match_the_odds() -> None:
    big, small = us_cities()[0], us_cities()[-1]
    # one user interested in spas, one in spas and dentists, one in nothing offered (popularity only)
    users = [User(1, "A B.", big, big.latitude, big.longitude, 1.0, ("spa",)),
             User(2, "C D.", small, small.latitude, small.longitude, 1.0, ("spa", "dental")),
             User(3, "E F.", big, big.latitude, big.longitude, 1.0, ("yoga",))]
    model = ActivityModel(users, DEALS, seed=11)
    views: Counter[tuple[int, int]] = Counter()
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    for _ in range(500):
        moment += timedelta(seconds=30)
        for e in model.next_events(moment, 100):
            if e["event_type"] == "view":
                views[(e["user_id"], e["deal_id"])] += 1
    odds = ViewOdds(DEALS)
    for user in users:
        total = sum(n for (u, _), n in views.items() if u == user.user_id)
        assert total > 1500
        for deal_id, p in odds.of(user).items():
            assert views[(user.user_id, deal_id)] / total == pytest.approx(p, abs=0.03)
