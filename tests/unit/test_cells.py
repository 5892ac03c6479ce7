"""Geohash cells of the API: same cells as the textbook encoder, neighbours, and radius covering."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cells import cells_covering, geohash, haversine_km, neighbours
from tests import expected

# Six decimals, as providers send coordinates (sub-normal floats sit on cell edges in any encoder).
lats = st.integers(-89_900_000, 89_900_000).map(lambda i: i / 1e6)
lons = st.integers(-179_900_000, 179_900_000).map(lambda i: i / 1e6)


def test_known_geohashes() -> None:
    assert geohash(57.64911, 10.40744, 11) == "u4pruydqqvj"
    assert geohash(43.0389, -87.9065, 4) == "dp9k"


@given(lats, lons)
def test_geohash_matches_the_textbook_bisection(lat: float, lon: float) -> None:
    assert geohash(lat, lon, 7) == expected.geohash(lat, lon, 7)


def test_neighbours_of_a_cell() -> None:
    lat, lon, dlat, dlon = 43.0389, -87.9065, 180 / 2**10, 360 / 2**10  # a geohash-4 cell's size
    around = {expected.geohash(lat + i * dlat, lon + j * dlon, 4) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    assert set(neighbours("dp9k")) == around - {"dp9k"} and len(around) == 9
    assert len(neighbours("0000")) == 5  # at the south pole row: no cells further south
    assert "pbpb" in neighbours("0000")  # longitude wraps around


@settings(max_examples=200)
@given(lats, lons, st.floats(0.5, 50), st.floats(0, 2 * math.pi), st.floats(0, 1))
def test_every_point_inside_the_radius_is_in_a_covering_cell(lat: float, lon: float, radius: float,
                                                             bearing: float, share: float) -> None:
    distance = radius * share * 0.999
    d, phi, lmb = distance / 6371.0088, math.radians(lat), math.radians(lon)
    lat2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(bearing))
    east = math.sin(bearing) * math.sin(d) * math.cos(phi)
    lon2 = lmb + math.atan2(east, math.cos(d) - math.sin(phi) * math.sin(lat2))
    point = (math.degrees(lat2), (math.degrees(lon2) + 540) % 360 - 180)
    assert haversine_km(lat, lon, *point) <= radius
    assert geohash(*point, 4) in cells_covering(lat, lon, radius)


def test_covering_stays_small_for_the_maximum_radius() -> None:
    assert len(cells_covering(43.0, -88.0, 50)) <= 48
    assert len(cells_covering(43.0, -88.0, 1)) <= 4
