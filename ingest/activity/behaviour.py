"""How simulated users behave: who is active when, what they look at, what they buy.

A pure model over a seeded `random.Random`: `ActivityModel.next_events(now, n)` returns the next
`n` events due at `now`. Each event is keyed by user; its id is the seed and a sequence number,
so a run with the same seed names its events the same way.

Skew, as on real deal sites:
- a few users do most of the clicking (heavy-tailed activity, `population.User.activity`);
- people are active by day in their own time zone, and categories peak at their hours (meals
  for restaurants, evenings for nightlife and events, mornings for fitness);
- a user mostly browses the categories they subscribed to, else what is popular;
- a nearby merchant is far more likely than a distant one (online deals are everywhere);
- the funnel narrows: view -> click (more likely on a bigger discount) -> purchase -> review;
- some reviews come from users who never bought the deal (`unverified_review_share` of all
  reviews, in expectation): the pipeline must tell them apart from verified-purchase ones.
Review texts are short Faker sentences (its packaged en_US word list) after an opener that fits the
stars. The model remembers who bought which deal (a set per deal, growing with purchases) so an
unverified reviewer is someone who has not.
"""
from __future__ import annotations

import heapq
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from ingest.activity.population import User, category_popularity
from pipeline.cells import haversine_km
from pipeline.taxonomy import PARENT_OF

#: Relative activity by local hour (0-23): asleep at night, peaks at lunch and in the evening.
DIURNAL = (0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.55, 0.7, 0.75, 0.8, 0.9,
           1.0, 0.9, 0.8, 0.8, 0.85, 0.95, 1.0, 1.0, 0.95, 0.8, 0.55, 0.3)
#: Categories that peak at certain local hours, and by how much.
HOUR_BOOSTS: dict[str, tuple[range, float]] = {
    "restaurants": (range(11, 14), 2.0), "bars-clubs": (range(19, 24), 2.5),
    "fitness": (range(6, 10), 2.0), "activities-events": (range(17, 23), 1.6),
}
INTEREST_SHARE = 0.65
NEARBY_KM = 25.0
ONLINE_NEARNESS = 0.3  # online: available everywhere, but people prefer local deals
CLICK_BASE, CLICK_PER_DISCOUNT = 0.12, 0.3
PURCHASE_AFTER_CLICK = 0.15
REVIEW_AFTER_PURCHASE = 0.3
#: Stars given in reviews, 1..5 (J-shaped, as on most review sites).
STAR_WEIGHTS = (0.08, 0.05, 0.11, 0.28, 0.48)
QUANTITY_WEIGHTS = (0.82, 0.13, 0.05)
#: Share of all reviews written by users who never bought the deal (settings: activity_unverified_review_share).
UNVERIFIED_REVIEW_SHARE = 0.1
#: Tries to find a reviewer who has not bought the deal before giving up on that unverified review.
UNVERIFIED_REVIEWER_TRIES = 5
#: How a review by stars (1..5) starts; Faker adds a short sentence.
REVIEW_OPENERS = ("Disappointing.", "Not great.", "It was okay.", "Good deal.", "Excellent, would buy again!")


@dataclass(frozen=True, slots=True)
class LiveDeal:
    deal_id: int
    title: str
    category_slug: str
    merchant_id: int | None
    merchant_name: str | None
    price: float
    discount_pct: float
    latitude: float | None
    longitude: float | None


@cache
def _zone(key: str) -> ZoneInfo:
    """ZoneInfo keeps only a few zones strongly cached: more than that were re-read from disk per event."""
    return ZoneInfo(key)


def nearness(user: User, deal: LiveDeal) -> float:
    """Relative odds that the user picks this deal among a category's deals: by distance from their town."""
    if deal.latitude is None or deal.longitude is None:
        return ONLINE_NEARNESS
    km = haversine_km(user.city.latitude, user.city.longitude, deal.latitude, deal.longitude)
    return 1.0 / (1.0 + (km / NEARBY_KM) ** 2)


def iso_millis(moment: datetime) -> str:
    """A moment as events carry it: ISO 8601 UTC with milliseconds and a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ActivityModel:
    """Users x live deals -> a stream of interaction events (dicts ready for JSON)."""

    def __init__(self, users: list[User], deals: list[LiveDeal], *, seed: int,
                 unverified_review_share: float = UNVERIFIED_REVIEW_SHARE) -> None:
        from faker import Faker

        if not 0 <= unverified_review_share < 1:
            raise ValueError(f"unverified_review_share must be in [0, 1), found {unverified_review_share}")
        self.users = users
        self.seed = seed
        self.rng = random.Random(seed)
        self.sequence = 0
        # one unverified review beside every verified one with this probability: share s of all reviews
        self._unverified_per_verified = unverified_review_share / (1 - unverified_review_share)
        self._bought: dict[int, set[int]] = defaultdict(set)
        self.reviews_sent = self.unverified_reviews_sent = 0  # the truth a test or bench can check
        self._fake = Faker("en_US")
        self._fake.seed_instance(seed)
        self._pending: list[tuple[datetime, int, User, LiveDeal, str]] = []
        self._by_zone: dict[str, list[User]] = defaultdict(list)
        for user in users:
            self._by_zone[user.city.timezone].append(user)
        self._zone_cum = {z: list(accumulate(u.activity for u in us)) for z, us in self._by_zone.items()}
        self._popularity = category_popularity()
        self._weights_at: datetime | None = None
        self._weights: list[float] = []
        self.set_deals(deals)

    def set_deals(self, deals: list[LiveDeal]) -> None:
        """Replace the live catalog (the simulator re-reads it periodically)."""
        self._deals: dict[str, list[LiveDeal]] = defaultdict(list)
        for deal in deals:
            self._deals[deal.category_slug].append(deal)
        self._deal_cum: dict[tuple[str, str], list[float]] = {}

    # -- choosing --------------------------------------------------------------------------------

    def _local_hour(self, zone: str, now: datetime) -> int:
        return now.astimezone(_zone(zone)).hour

    def _zone_weights(self, now: datetime) -> list[float]:
        # the same for every event of one call: computed once per `now`, not once per event
        if self._weights_at != now:
            self._weights = [self._zone_cum[z][-1] * DIURNAL[self._local_hour(z, now)] for z in self._by_zone]
            self._weights_at = now
        return self._weights

    def _pick_user(self, now: datetime) -> User:
        zone = self.rng.choices(list(self._by_zone), weights=self._zone_weights(now))[0]
        return self.rng.choices(self._by_zone[zone], cum_weights=self._zone_cum[zone])[0]

    def _pick_category(self, user: User, hour: int) -> str:
        if self.rng.random() < INTEREST_SHARE:
            offered = [c for c in user.interests if self._deals.get(c)]
            if offered:
                return self.rng.choice(offered)
        slugs = [c for c in self._deals if self._deals[c]]
        weights = [self._popularity.get(c, 0.01) * self._hour_boost(c, hour) for c in slugs]
        return self.rng.choices(slugs, weights=weights)[0]

    @staticmethod
    def _hour_boost(slug: str, hour: int) -> float:
        for key in (slug, PARENT_OF.get(slug, slug)):
            if key in HOUR_BOOSTS and hour in HOUR_BOOSTS[key][0]:
                return HOUR_BOOSTS[key][1]
        return 1.0

    def _pick_deal(self, user: User, slug: str) -> LiveDeal:
        key = (user.city.name + user.city.region, slug)
        if key not in self._deal_cum:  # users of one town share the weights: cached per town and category
            self._deal_cum[key] = list(accumulate(self._nearness(user, d) for d in self._deals[slug]))
        return self.rng.choices(self._deals[slug], cum_weights=self._deal_cum[key])[0]

    @staticmethod
    def _nearness(user: User, deal: LiveDeal) -> float:
        return nearness(user, deal)

    # -- the funnel ------------------------------------------------------------------------------

    def _follow_up(self, now: datetime, user: User, deal: LiveDeal, kind: str) -> None:
        rng = self.rng
        if kind == "view" and rng.random() < CLICK_BASE + CLICK_PER_DISCOUNT * deal.discount_pct:
            nxt, delay = "click", rng.uniform(1, 15)
        elif kind == "click" and rng.random() < PURCHASE_AFTER_CLICK:
            nxt, delay = "purchase", rng.uniform(3, 40)
        elif kind == "purchase" and rng.random() < REVIEW_AFTER_PURCHASE:
            nxt, delay = "review", rng.uniform(20, 240)
            if rng.random() < self._unverified_per_verified:
                self._schedule_unverified_review(now, deal)
        else:
            return
        heapq.heappush(self._pending, (now + timedelta(seconds=delay), self._next_sequence(), user, deal, nxt))

    def _schedule_unverified_review(self, now: datetime, deal: LiveDeal) -> None:
        """A review of `deal` by a user who has not bought it (skipped if none is found quickly)."""
        for _ in range(UNVERIFIED_REVIEWER_TRIES):
            reviewer = self._pick_user(now)
            if reviewer.user_id not in self._bought[deal.deal_id]:
                due = now + timedelta(seconds=self.rng.uniform(20, 240))
                heapq.heappush(self._pending, (due, self._next_sequence(), reviewer, deal, "review"))
                return

    def _next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def next_events(self, now: datetime, count: int) -> list[dict[str, Any]]:
        """Up to `count` events at `now`: due follow-ups first, then fresh views."""
        events: list[dict[str, Any]] = []
        while self._pending and self._pending[0][0] <= now and len(events) < count:
            _, _, user, deal, kind = heapq.heappop(self._pending)
            events.append(self._event(now, user, deal, kind))
        while len(events) < count and self._deals:
            user = self._pick_user(now)
            slug = self._pick_category(user, self._local_hour(user.city.timezone, now))
            events.append(self._event(now, user, self._pick_deal(user, slug), "view"))
        return events

    def _event(self, now: datetime, user: User, deal: LiveDeal, kind: str) -> dict[str, Any]:
        self._follow_up(now, user, deal, kind)
        event: dict[str, Any] = {
            "event_id": f"{self.seed:x}-{self._next_sequence():x}", "event_type": kind, "occurred_at": iso_millis(now),
            "user_id": user.user_id, "user_name": user.display_name, "user_city": user.city.name,
            "lat": user.latitude, "lon": user.longitude, "deal_id": deal.deal_id, "deal_title": deal.title,
            "category_slug": deal.category_slug, "merchant_id": deal.merchant_id,
            "merchant_name": deal.merchant_name, "price": deal.price,
        }
        if kind == "purchase":
            event["quantity"] = self.rng.choices((1, 2, 3), weights=QUANTITY_WEIGHTS)[0]
            self._bought[deal.deal_id].add(user.user_id)
        elif kind == "review":
            event |= self._review(user, deal)
        return event

    def _review(self, user: User, deal: LiveDeal) -> dict[str, Any]:
        stars = self.rng.choices((1, 2, 3, 4, 5), weights=STAR_WEIGHTS)[0]
        self.reviews_sent += 1
        self.unverified_reviews_sent += user.user_id not in self._bought[deal.deal_id]
        return {"rating": stars, "review_text": f"{REVIEW_OPENERS[stars - 1]} {self._fake.sentence(nb_words=8)}"}


#: Ways a client sends a broken event (the pipeline must dead-letter each, never crash).
CORRUPTIONS = ("truncated", "unknown_type", "bad_rating", "no_user", "not_json")


def corrupt(event: dict[str, Any], rng: random.Random) -> dict[str, Any] | str:
    """A broken variant of `event`: a dict with a bad field, or text that is not a JSON object."""
    kind = rng.choice(CORRUPTIONS)
    if kind == "truncated":
        return '{"event_id": "' + str(event["event_id"]) + '", "event_type": "vi'
    if kind == "not_json":
        return "<html>502 Bad Gateway</html>"
    broken = dict(event)
    if kind == "unknown_type":
        broken["event_type"] = "hover"
    elif kind == "bad_rating":
        broken |= {"event_type": "review", "rating": 9}
    else:
        broken.pop("user_id")
    return broken
