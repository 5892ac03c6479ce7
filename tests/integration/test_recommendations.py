"""The recommendation job over a lake of real events into the real Cassandra, and the API that serves it.

The job runs once per module (local[2], a tiny ALS grid); the API is the whole app over Starlette's
TestClient. Expectations come from the seeded world (recommend_fixtures.py) and plain-Python
computations over it, or from reading Cassandra directly — never from the code under test.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.app import create_app
from graphql_api.auth import create_token
from pipeline.cells import cells_covering, geohash, haversine_km, neighbours
from pipeline.definitions import AREA_PRECISION
from tests.conftest import RECOMMEND_TEST_KEYSPACE, keyspace_session, raw_records, truncate_keyspace
from tests.integration import recommend_fixtures as world
from tests.integration.api_client import data, gql
from tests.integration.recommend_fixtures import TOP_N, stored

pytestmark = pytest.mark.integration
VIEWER = "query($first: Int!) { viewer { recommendations(first: $first) { score reason deal { id price } } } }"
NEAR = ("query($lat: Float!, $lon: Float!) { recommendations(near: {lat: $lat, lon: $lon, radiusKm: 25}, "
        "first: 10) { score reason deal { id } } }")


@pytest.fixture(scope="module")
def rec_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"keyspace": RECOMMEND_TEST_KEYSPACE, **world.SETTINGS})


@pytest.fixture(scope="module")
def session(rec_settings: Settings) -> Iterator[Any]:
    with keyspace_session(rec_settings) as cql:
        truncate_keyspace(cql, RECOMMEND_TEST_KEYSPACE)
        yield cql


@pytest.fixture(scope="module")
def trained(spark: Any, rec_settings: Settings, session: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Deals as the deals sink stores them (plain CQL), events as the lake holds them, then the job once."""
    from batch.recommend_job import run_recommend_batch
    from pipeline.schemas import RAW_RECORD_SCHEMA

    world.seed_deals(session, RECOMMEND_TEST_KEYSPACE)
    lake = tmp_path_factory.mktemp("rec-lake") / "user_events"
    spark.createDataFrame(raw_records(world.events(), topic="user_events"), RAW_RECORD_SCHEMA) \
        .write.parquet(lake.as_uri())
    return run_recommend_batch(spark, rec_settings, lake.as_uri(), now=world.NOW)


@pytest.fixture(scope="module")
def client(rec_settings: Settings, trained: Any) -> Iterator[TestClient]:
    with TestClient(create_app(rec_settings)) as test_client:
        yield test_client


def bearer(settings: Settings, user: int) -> dict[str, str]:
    return {"authorization": f"Bearer {create_token(settings, user)}"}


def viewer_list(client: TestClient, settings: Settings, user: int, first: int = TOP_N) -> list[dict[str, Any]]:
    response = client.post("/graphql", json={"query": VIEWER, "variables": {"first": first}},
                           headers=bearer(settings, user))
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["viewer"]["recommendations"]


# -- the job --------------------------------------------------------------------------------------------

def test_area_popularity_equals_the_plain_python_count(trained: Any, session: Any, rec_settings: Settings) -> None:
    world.assert_area_popularity(session, rec_settings.recommend_half_life_days)


def test_every_user_gets_a_diverse_list_without_bought_or_expired_deals(trained: Any, session: Any) -> None:
    world.assert_diverse_lists(session)


def test_angelenos_are_recommended_los_angeles_deals_first(trained: Any, session: Any) -> None:
    world.assert_local_first(session)


def test_the_model_and_the_grid_are_saved_under_the_lake(trained: Any) -> None:
    path = Path(trained.model_path.removeprefix("file://"))
    assert (path / "model" / "metadata").is_dir() and (path / "grid").is_dir()
    assert {(p["rank"], p["taste_weight"]) for p in trained.grid} == {(2, 0.0), (2, 0.5), (3, 0.0), (3, 0.5)}
    best = max(trained.grid, key=lambda p: p["ndcg_at_10"])
    assert best["ndcg_at_10"] == max(p["ndcg_at_10"] for p in trained.grid if p["rank"] == trained.rank
                                     and p["taste_weight"] == trained.taste_weight)


# -- the API --------------------------------------------------------------------------------------------

def test_viewer_gets_their_stored_list_in_order(client: TestClient, rec_settings: Settings, session: Any) -> None:
    rows = stored(session, 4)
    got = viewer_list(client, rec_settings, 4, first=len(rows))  # exactly the stored list: no fill
    assert [(int(g["deal"]["id"]), g["reason"]) for g in got] == [(r.deal_id, r.reason) for r in rows]
    assert [g["score"] for g in got] == pytest.approx([r.score for r in rows])


def test_another_users_token_sees_nothing_of_this_user(client: TestClient, rec_settings: Settings,
                                                        session: Any) -> None:
    mine = {r.deal_id for r in stored(session, 11)} - set(world.ONLINE_DEALS)  # online deals suit anyone
    assert mine
    theirs = viewer_list(client, rec_settings, 2, first=len(stored(session, 2)))
    assert {int(g["deal"]["id"]) for g in theirs} == {r.deal_id for r in stored(session, 2)}
    assert not mine & {int(g["deal"]["id"]) for g in theirs}  # an Angeleno's list never shows in a New Yorker's
    assert viewer_list(client, rec_settings, 999) == []  # a user without data and without `near`: nothing
    assert data(client, VIEWER, {"first": 5})["viewer"] is None  # no token: no viewer at all


def test_a_deal_that_expires_or_is_bought_after_training_drops_out(client: TestClient, rec_settings: Settings,
                                                                   session: Any) -> None:
    rows = stored(session, 5)
    expiring, bought = rows[0].deal_id, rows[1].deal_id
    past = world.NOW - timedelta(minutes=1)
    session.execute("UPDATE deals_by_id SET expires_at = %s WHERE deal_id = %s", (past, expiring))
    month = world.NOW.strftime("%Y-%m")
    session.execute("INSERT INTO purchases_by_user (user_id, month, occurred_at, event_id, deal_id) "
                    "VALUES (%s, %s, %s, %s, %s)", (5, month, world.NOW, "after-training", bought))
    got = [int(g["deal"]["id"]) for g in viewer_list(client, rec_settings, 5, first=len(rows))]
    assert expiring not in got and bought not in got
    assert got[:len(rows) - 2] == [r.deal_id for r in rows[2:]]  # the rest keep their order, then the fill


def test_a_price_cut_after_training_moves_a_deal_up(client: TestClient, rec_settings: Settings, session: Any) -> None:
    now = world.NOW.replace(tzinfo=None)
    rows = [r for r in stored(session, 6) if session.execute(  # earlier tests may have expired one
        "SELECT expires_at FROM deals_by_id WHERE deal_id = %s", (r.deal_id,)).one().expires_at > now]
    last = rows[-1]
    session.execute("UPDATE deals_by_id SET price = %s WHERE deal_id = %s", (last.price / 4, last.deal_id))
    got = viewer_list(client, rec_settings, 6, first=len(rows))
    # x4 cheaper: the score doubles (the re-rank is bounded at x2)
    score = {int(g["deal"]["id"]): g["score"] for g in got}
    assert score[last.deal_id] == pytest.approx(2 * last.score)
    want = sorted(rows, key=lambda r: (-(2 * r.score if r.deal_id == last.deal_id else r.score), r.deal_id))
    assert [int(g["deal"]["id"]) for g in got] == [r.deal_id for r in want]


def _local_candidates(session: Any, point: tuple[float, float]) -> set[int]:
    """What trending-near-the-point may list: the area's and neighbours' popular deals, deals within 25 km."""
    area = geohash(*point, AREA_PRECISION)
    found = set()
    for a in (area, *neighbours(area)):
        found |= {r.deal_id for r in session.execute("SELECT deal_id FROM popular_deals_by_area WHERE area = %s",
                                                      (a,))}
    for cell in cells_covering(*point, 25.0):
        found |= {r.deal_id for r in session.execute(
            "SELECT deal_id, latitude, longitude FROM deals_by_geocell WHERE geocell = %s", (cell,))
            if haversine_km(*point, r.latitude, r.longitude) <= 25.0}
    return found - set(world.EXPIRED)


def test_a_cold_start_user_gets_a_non_empty_local_list(client: TestClient, rec_settings: Settings,
                                                       session: Any) -> None:
    query = ("{ viewer { recommendations(first: 10, near: {lat: 40.75, lon: -73.99, radiusKm: 25}) "
             "{ reason deal { id location { latitude longitude } } } } }")
    response = client.post("/graphql", json={"query": query}, headers=bearer(rec_settings, 999))
    got = response.json()["data"]["viewer"]["recommendations"]
    assert got, "a user the model has never seen still gets deals near them"
    ids = {int(g["deal"]["id"]) for g in got}
    assert ids <= _local_candidates(session, (40.75, -73.99))
    assert not ids & set(world.LA_DEALS)
    assert {g["reason"] for g in got} <= {"popular near you", "near you"} | {f"new in {s}" for s in world.SLUGS}


def test_anonymous_callers_get_trending_near_a_point(client: TestClient, session: Any) -> None:
    got = data(client, NEAR, {"lat": 34.05, "lon": -118.24})["recommendations"]
    assert got and {int(g["deal"]["id"]) for g in got} <= set(world.LA_DEALS)
    assert [g["score"] for g in got] == sorted((g["score"] for g in got), reverse=True)


def test_recommendations_are_within_the_cost_budget(client: TestClient, rec_settings: Settings) -> None:
    repo = client.app.state.repository  # type: ignore[attr-defined]
    before = repo.requests
    viewer_list(client, rec_settings, 7, first=10)
    spent = repo.requests - before
    cells = len(cells_covering(world.NYC[0], world.NYC[1], rec_settings.recommend_fallback_radius_km))
    # stored list + 3 purchase months + its deals; at most the fill: 9 areas, the cells, 2 x 10 deals
    assert spent <= 1 + 3 + TOP_N + 9 + cells + 2 * 10
    many = " ".join(f"a{i}: viewer {{ recommendations(first: 100) {{ deal {{ id }} }} }}" for i in range(15))
    before = repo.requests
    body = client.post("/graphql", json={"query": f"{{ {many} }}"}, headers=bearer(rec_settings, 7)).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert repo.requests == before
    error = gql(client, "{ recommendations(near: {lat: 95, lon: 0, radiusKm: 5}) { score } }")["errors"][0]
    assert error["message"].startswith("near.lat:") and error["extensions"]["code"] == "BAD_USER_INPUT"
