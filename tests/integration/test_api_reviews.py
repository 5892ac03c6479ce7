"""The review fields of the API (issue 18) over tables the activity sinks wrote from the review log:
each answer equals what the plain-Python oracle says about the same log."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.app import create_app
from pipeline.activity_sink import ActivityEventsSink, ActivityWindowsSink, activity_windows
from pipeline.schemas import RAW_RECORD_SCHEMA
from pipeline.taxonomy import PARENT_OF, PARENTS
from tests import review_log as oracle
from tests.conftest import REVIEWS_API_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration.activity_fixtures import raw_rows
from tests.integration.api_client import data, gql

pytestmark = pytest.mark.integration
KEYSPACE = REVIEWS_API_TEST_KEYSPACE
LOG = oracle.review_log()
RATING = "{ adjusted mean count distribution unverifiedCount priorMean }"
#: merchant id -> one of its deals: the API reaches a merchant through a deal
A_DEAL_OF = {merchant: deal for deal, (_slug, merchant) in sorted(oracle.DEALS.items()) if merchant is not None}


@pytest.fixture(scope="module")
def client(spark: Any, settings: Settings) -> Iterator[TestClient]:
    # the log is of a fixed day in the past: widen the public window (24 h by default) for activityMap
    rev = settings.model_copy(update={"keyspace": KEYSPACE, "activity_min_users_per_cell": 5,
                                      "api_public_window_s": 3650 * 86_400})
    with keyspace_session(rev) as session:
        truncate_keyspace(session, KEYSPACE)
        insert = session.prepare("INSERT INTO deals_by_id (deal_id, title, price, value, discount_pct, category_slug, "
                                 "merchant_id, merchant_name, online) VALUES (?, ?, 10.0, 20.0, 0.5, ?, ?, ?, true)")
        for deal, (slug, merchant) in oracle.DEALS.items():
            name = None if merchant is None else f"M {merchant}"
            session.execute(insert, (deal, f"Deal {deal}", slug, merchant, name))
    raw_df = spark.createDataFrame(raw_rows(LOG), RAW_RECORD_SCHEMA)
    events_sink = ActivityEventsSink(rev)
    try:
        events_sink(raw_df)
    finally:
        events_sink.close()
    ActivityWindowsSink(rev)(activity_windows(raw_df, rev))
    with TestClient(create_app(rev)) as test_client:
        yield test_client


def _rating(sums: dict[str, Any], prior: dict[str, Any] | None) -> dict[str, Any] | None:
    if not sums["reviews"]:
        return None
    mean = prior["stars"] / prior["reviews"] if prior and prior["reviews"] else oracle.NEUTRAL
    return {"adjusted": oracle.adjusted(sums["reviews"], sums["stars"], prior), "mean": round(sums["mean"], 4),
            "count": sums["reviews"], "distribution": list(sums["distribution"]),
            "unverifiedCount": sums["unverified"], "priorMean": round(mean, 4)}


def test_deal_rating_counts_only_verified_latest_reviews_adjusted_to_the_category(client: TestClient) -> None:
    priors = oracle.priors(LOG)
    for deal, sums in oracle.deal_ratings(LOG).items():
        got = data(client, f'{{ deal(id: "{deal}") {{ rating {RATING} }} }}')["deal"]["rating"]
        assert got == _rating(sums, priors.get(sums["category"])), deal
    assert data(client, '{ deal(id: "2006") { rating { count } } }')["deal"]["rating"] is None  # unverified only


def test_merchant_rating_is_adjusted_to_the_platform_mean(client: TestClient) -> None:
    priors = oracle.priors(LOG)
    platform = {"reviews": sum(priors[p]["reviews"] for p in PARENTS if p in priors),
                "stars": sum(priors[p]["stars"] for p in PARENTS if p in priors)}
    merchants = oracle.merchant_ratings(LOG)
    assert any(not sums["reviews"] for sums in merchants.values())  # a merchant with unverified reviews only
    for merchant, sums in merchants.items():
        query = f'{{ deal(id: "{A_DEAL_OF[merchant]}") {{ merchant {{ rating {RATING} }} }} }}'
        assert data(client, query)["deal"]["merchant"]["rating"] == _rating(sums, platform), merchant


def test_reviews_page_newest_first_with_verified_and_short_names(client: TestClient) -> None:
    reviews = [r for (deal, _), r in oracle.latest_reviews(LOG).items() if deal == 2001]
    newest = sorted(reviews, key=lambda r: (-oracle._at(r).timestamp(), r["user_id"]))
    want = [{"id": r["event_id"], "stars": r["rating"], "verified": r["verified"], "text": f"Text of {r['event_id']}",
             "reviewer": f"Name{r['user_id']} S."} for r in newest]
    got, after = [], None
    while True:
        arg = "" if after is None else f', after: "{after}"'
        page = data(client, f'{{ deal(id: "2001") {{ reviews(first: 3{arg}) {{ nodes {{ id stars verified text '
                            f'reviewer }} pageInfo {{ hasNextPage endCursor }} }} }} }}')["deal"]["reviews"]
        got += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert got == want and len(want) > 3


def test_a_merchants_latest_reviews_come_newest_first_across_its_deals(client: TestClient) -> None:
    for merchant, deal in A_DEAL_OF.items():
        reviews = [r for r in oracle.latest_reviews(LOG).values() if r["merchant_id"] == merchant]
        newest = sorted(reviews, key=lambda r: (-oracle._at(r).timestamp(), r["deal_id"], r["user_id"]))
        want = [{"id": r["event_id"], "stars": r["rating"], "verified": r["verified"], "dealId": str(r["deal_id"]),
                 "dealTitle": f"Deal {r['deal_id']}", "reviewer": f"Name{r['user_id']} S."} for r in newest]
        for first in (2, 100):
            got = data(client, f'{{ deal(id: "{deal}") {{ merchant {{ latestReviews(first: {first}) {{ id stars '
                               f'verified dealId dealTitle reviewer }} }} }} }}')["deal"]["merchant"]["latestReviews"]
            assert got == want[:first], (merchant, first)
    assert len({r["deal_id"] for r in oracle.latest_reviews(LOG).values() if r["merchant_id"] == 700}) > 1


def test_merchants_best_rated_in_a_category(client: TestClient) -> None:
    prior = oracle.priors(LOG)["dining-nightlife"]
    rated = {m: r for (slug, m), r in oracle.merchant_category_ratings(LOG).items()
             if slug == "dining-nightlife" and r["reviews"]}
    order = sorted(rated, key=lambda m: (-oracle.adjusted(rated[m]["reviews"], rated[m]["stars"], prior), m))
    got = data(client, '{ merchants(category: "dining-nightlife", sort: BEST_RATED) { nodes { id dealCount '
                       'rating { adjusted count } } } }')["merchants"]["nodes"]
    assert [(int(n["id"]), n["dealCount"], n["rating"]) for n in got] == [
        (m, rated[m]["rated_deals"], {"adjusted": oracle.adjusted(rated[m]["reviews"], rated[m]["stars"], prior),
                                      "count": rated[m]["reviews"]}) for m in order]


def test_deals_best_rated_within_a_category(client: TestClient) -> None:
    priors = oracle.priors(LOG)
    rated = {d: r for d, r in oracle.deal_ratings(LOG).items()
             if r["reviews"] and PARENT_OF[r["category"]] == "dining-nightlife"}
    value = {d: oracle.adjusted(r["reviews"], r["stars"], priors[r["category"]]) for d, r in rated.items()}
    got = data(client, '{ deals(filter: {category: "dining-nightlife"}, sort: BEST_RATED, first: 2) { nodes { id '
                       'rating { adjusted } } pageInfo { hasNextPage endCursor } } }')["deals"]
    rest = data(client, '{ deals(filter: {category: "dining-nightlife"}, sort: BEST_RATED, after: $after) '
                        '{ nodes { id } } }'.replace("$after", f'"{got["pageInfo"]["endCursor"]}"'))["deals"]["nodes"]
    order = sorted(value, key=lambda d: (-value[d], d))
    assert [(int(n["id"]), n["rating"]["adjusted"]) for n in got["nodes"]] == [(d, value[d]) for d in order[:2]]
    assert [int(n["id"]) for n in rest] == order[2:] and got["pageInfo"]["hasNextPage"] is (len(order) > 2)


def test_best_rated_deals_need_a_category_and_no_other_filter(client: TestClient) -> None:
    for flt, field in (("{}", "filter.category"), ('{category: "spa", minPrice: 1}', "filter.minPrice")):
        body = gql(client, f"{{ deals(filter: {flt}, sort: BEST_RATED) {{ nodes {{ id }} }} }}")
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith(field)


def test_activity_map_cells_carry_the_average_rating(client: TestClient) -> None:
    want = {(c[3], round(c[7], 4)) for c in oracle.cell_ratings(LOG, 30.0, 5) if c[0] == 4
            and c[2] == datetime(2026, 1, 5, 10)}
    got = data(client, '{ activityMap(bbox: {south: 20, west: -130, north: 50, east: -60}, precision: 4, '
                       'at: "2026-01-05T10:59:30+00:00") { cells { geohash averageRating } } }')["activityMap"]
    assert want and {(c["geohash"], c["averageRating"]) for c in got["cells"] if c["averageRating"]} == want
