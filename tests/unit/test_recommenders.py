"""Recommender transforms and models on small inline frames (local Spark, no Cassandra).

Every expectation is worked out here in plain Python: the split by hand, confidence sums from the
weights table, distances with pipeline.cells.haversine_km (the pure-Python definition).
"""
from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline import recommend_features as rf
from pipeline import recommend_schemas as s
from pipeline.activity_schemas import ACTIVITY_EVENT_SCHEMA
from pipeline.cells import geohash, haversine_km
from pipeline.definitions import AREA_PRECISION, INTERACTION_CONFIDENCE
from pipeline.recommend_training import rank_for, sample_users
from pipeline.recommenders import Als, AlsParams, BlendParams, History, LocationAwareBlend, Popularity

NOW = datetime(2026, 3, 1, 12, 0, 0)
HOME = (40.7128, -74.0060)  # New York
NEAR = (40.73, -74.02)  # ~2.4 km from HOME
FAR = (42.3601, -71.0589)  # Boston, ~300 km
BLEND = BlendParams(candidates=50, distance_km=25.0, online_penalty=0.3, als_weight=0.8, new_deal_prior=0.1,
                    taste_weight=0.5, top_categories=3, category_prior=5.0, exploration=0.0)
TINY_ALS = AlsParams(rank=2, reg_param=0.1, alpha=5.0, iterations=4)


def event(i: int, user: int, deal: int, kind: str = "view", *, at: datetime = NOW, home: tuple[float, float] = HOME,
          slug: str = "yoga") -> dict[str, Any]:
    return {"event_id": f"e{i}", "event_type": kind, "occurred_at": at, "received_at": at, "user_id": user,
            "user_name": f"U{user}", "user_city": "Town", "latitude": home[0], "longitude": home[1],
            "deal_id": deal, "deal_title": f"Deal {deal}", "category_slug": slug, "parent_category": "fitness",
            "merchant_id": 900 + deal, "merchant_name": f"M{deal}", "price": 10.0,
            "quantity": 1 if kind == "purchase" else None}


def events_df(spark: Any, rows: list[dict[str, Any]]) -> Any:
    """Event rows by field name; fields an event does not have (a rating, a review text) are null."""
    names = ACTIVITY_EVENT_SCHEMA.fieldNames()
    return spark.createDataFrame([tuple(row.get(n) for n in names) for row in rows], ACTIVITY_EVENT_SCHEMA)


def deal_row(deal: int, place: tuple[float, float] | None, *, merchant: int | None = None, slug: str = "yoga"
             ) -> tuple[Any, ...]:
    lat, lon = place if place else (None, None)
    area = geohash(lat, lon, AREA_PRECISION) if place else None
    return (deal, f"Deal {deal}", slug, merchant if merchant is not None else 900 + deal, "M", 10.0, lat, lon, area)


def deals_df(spark: Any, rows: list[tuple[Any, ...]]) -> Any:
    return spark.createDataFrame(rows, s.CANDIDATE_DEAL_SCHEMA)


def test_time_split_holds_out_the_newest_share_of_each_user(spark: Any) -> None:
    rows = [event(i, 1, 100 + i, at=NOW + timedelta(minutes=i)) for i in range(5)]  # ceil(5 x 0.8) = 4 train
    rows += [event(10, 2, 200)]  # a single event always trains
    rows += [event(20 + i, 3, 300 + i, at=NOW + timedelta(minutes=10 - i)) for i in range(3)]  # ceil(2.4) = 3
    split = rf.with_user_time_split(events_df(spark, rows), held_out_share=0.2)
    held = {(r["user_id"], r["deal_id"]) for r in split.filter("is_held_out").collect()}
    assert held == {(1, 104)}
    assert split.count() == len(rows)


def test_interactions_sum_confidence_and_halve_it_per_half_life(spark: Any) -> None:
    day = timedelta(days=1)
    rows = [event(1, 1, 100, "view", at=NOW - 2 * day), event(2, 1, 100, "click", at=NOW - 2 * day),
            event(3, 1, 100, "purchase", at=NOW), event(4, 2, 100, "view", at=NOW - day)]
    got = {(r["user_id"], r["deal_id"]): r for r in
           rf.to_interactions(events_df(spark, rows), now=NOW, half_life_s=86_400).collect()}
    w = INTERACTION_CONFIDENCE
    assert got[(1, 100)]["strength"] == pytest.approx(w["view"] + w["click"] + w["purchase"])
    assert got[(1, 100)]["recent_strength"] == pytest.approx((w["view"] + w["click"]) / 4 + w["purchase"])
    assert got[(1, 100)]["bought"] is True and got[(2, 100)]["bought"] is False
    assert got[(2, 100)]["recent_strength"] == pytest.approx(w["view"] / 2)
    assert got[(1, 100)]["events"] == 3


def test_home_is_the_place_of_the_newest_event(spark: Any) -> None:
    rows = [event(1, 1, 100, at=NOW - timedelta(hours=1), home=FAR), event(2, 1, 101, at=NOW, home=HOME)]
    (home,) = rf.to_user_homes(events_df(spark, rows)).collect()
    assert (home["latitude"], home["longitude"], home["area"]) == (*HOME, geohash(*HOME, AREA_PRECISION))


def test_category_affinity_is_the_smoothed_share_of_each_users_strength(spark: Any) -> None:
    slug_of = {100: "yoga", 101: "yoga", 200: "spa", 300: "restaurants"}
    rows = [(1, 100, 3.0), (1, 101, 1.0), (1, 200, 2.0), (1, 300, 0.5), (2, 300, 4.0), (2, 200, 1.0)]
    interactions = spark.createDataFrame(
        [(u, d, w, w, 1, False, NOW, f"Deal {d}", slug_of[d]) for u, d, w in rows], s.INTERACTION_SCHEMA)
    got = {(r["user_id"], r["category_slug"]): r["affinity"]
           for r in rf.to_category_affinity(interactions, prior_strength=2.0, top=2).collect()}
    # plain Python: (the user's strength in the category + 2 x everyone's share) / (the user's total + 2)
    total = sum(w for _, _, w in rows)
    share = {slug: sum(w for _, d, w in rows if slug_of[d] == slug) / total for slug in set(slug_of.values())}
    want_all = {}
    for user in (1, 2):
        mine = [(slug_of[d], w) for u, d, w in rows if u == user]
        for slug in {c for c, _ in mine}:
            strength = sum(w for c, w in mine if c == slug)
            want_all[user, slug] = (strength + 2.0 * share[slug]) / (sum(w for _, w in mine) + 2.0)
    want = {key: value for key, value in want_all.items()
            if sorted((v for (u, _), v in want_all.items() if u == key[0]), reverse=True).index(value) < 2}
    assert got == pytest.approx(want)
    assert set(got) == {(1, "yoga"), (1, "spa"), (2, "restaurants"), (2, "spa")}


def test_taste_prefers_the_users_category_and_the_nearer_deal(spark: Any) -> None:
    """A user who keeps looking at yoga: a yoga deal next door beats a far yoga deal and a spa deal."""
    rows = [event(i, 1, 100 + i % 3, slug="yoga") for i in range(9)] + [event(20, 1, 200, slug="spa")]
    rows += [event(30 + i, 2, 200, slug="spa") for i in range(3)]
    history = History(rf.to_interactions(events_df(spark, rows), now=NOW, half_life_s=86_400),
                      rf.to_user_homes(events_df(spark, rows)))
    blend = LocationAwareBlend(Als(TINY_ALS, 50), Popularity(50), BLEND)
    blend.fit(history)
    deals = deals_df(spark, [deal_row(500, NEAR, slug="yoga"), deal_row(501, FAR, slug="yoga"),
                             deal_row(502, NEAR, slug="spa")])
    users = history.homes.filter("user_id = 1")
    taste = {r["deal_id"]: r["taste"] for r in blend._taste(users, deals).collect()}
    assert taste[500] == pytest.approx(1.0) and taste[500] > taste[501] and taste[500] > taste[502]


def test_distance_penalty_matches_the_plain_python_distance(spark: Any) -> None:
    frame = spark.createDataFrame([(*HOME, *FAR), (*HOME, None, None), (None, None, *FAR)],
                                  "hl double, hn double, dl double, dn double")
    penalty = rf.distance_penalty(*(frame[c] for c in ("hl", "hn", "dl", "dn")), scale_km=25.0, online_penalty=0.3)
    got = [r[0] for r in frame.select(penalty).collect()]
    km = haversine_km(*HOME, *FAR)
    assert got == pytest.approx([1 / (1 + (km / 25.0) ** 2), 0.3, 1.0])


def test_top_n_drops_bought_deals_and_caps_each_merchant(spark: Any) -> None:
    scored = spark.createDataFrame([(1, d, float(10 - i), "r") for i, d in enumerate((100, 101, 102, 103, 104))],
                                   s.SCORED_SCHEMA)
    deals = deals_df(spark, [deal_row(100, HOME, merchant=7), deal_row(101, HOME, merchant=7),
                             deal_row(102, HOME, merchant=7), deal_row(103, None, merchant=None),
                             deal_row(104, HOME, merchant=8)])
    bought = spark.createDataFrame([(1, 101)], "user_id long, deal_id long")
    ranked = rf.top_n_per_user(scored, deals, bought, n=3, per_merchant=1)
    # 101 bought; of merchant 7 only its best (100) stays; then 103 (online, its own merchant), 104
    assert [(r["rank"], r["deal_id"]) for r in ranked.orderBy("rank").collect()] == [(1, 100), (2, 103), (3, 104)]


def test_candidates_are_live_deals_only(spark: Any) -> None:
    rows = spark.createDataFrame(
        [(1, "A", None, "yoga", 5.0, None, None, None, None, None, NOW + timedelta(days=1)),
         (2, "B", "b", "yoga", 5.0, None, None, None, None, None, NOW - timedelta(seconds=1)),
         (3, "C", None, "yoga", 5.0, None, None, None, None, None, None)],
        "deal_id long, title string, short_title string, category_slug string, price double, merchant_id long, "
        "merchant_name string, latitude double, longitude double, online boolean, expires_at timestamp")
    live = rf.to_candidate_deals(rows, now=NOW)
    assert sorted(r["deal_id"] for r in live.collect()) == [1, 3]


def _symmetric_history(spark: Any) -> tuple[History, Any]:
    """Users 1-4 live at HOME and treat deals 100 (near) and 101 (far) exactly alike; user 9 is new."""
    rows, i = [], 0
    for user in (1, 2, 3, 4):
        for deal in (100, 101):
            rows.append(event(i, user, deal, "click"))
            i += 1
        rows.append(event(i, user, 110 + user, "view"))  # each also looked at a deal of their own
        i += 1
    events = events_df(spark, rows)
    history = History(rf.to_interactions(events, now=NOW, half_life_s=86_400).cache(),
                      rf.to_user_homes(events).cache())
    deals = deals_df(spark, [deal_row(100, NEAR), deal_row(101, FAR)]
                     + [deal_row(110 + u, HOME) for u in (1, 2, 3, 4)] + [deal_row(120, NEAR)])
    return history, deals


def _blend(history: History) -> LocationAwareBlend:
    blend = LocationAwareBlend(Als(TINY_ALS, 50), Popularity(50), BLEND)
    blend.fit(history)
    return blend


def test_blend_prefers_a_near_deal_to_an_equally_scored_far_one(spark: Any) -> None:
    history, deals = _symmetric_history(spark)
    blend = _blend(history)
    users = history.homes.filter("user_id = 1")
    scores = {r["deal_id"]: r["score"] for r in blend.score(users, deals).collect()}
    # the same interactions give 100 and 101 the same ALS and area score; only the distance differs
    near_penalty = 1 / (1 + (haversine_km(*HOME, *NEAR) / 25.0) ** 2)
    far_penalty = 1 / (1 + (haversine_km(*HOME, *FAR) / 25.0) ** 2)
    assert scores[100] > scores[101]
    assert scores[100] / scores[101] == pytest.approx(near_penalty / far_penalty, rel=1e-3)


def test_exploration_is_a_deterministic_gumbel_draw_per_user_and_deal(spark: Any) -> None:
    pairs = spark.range(4000).selectExpr("id % 200 AS user_id", "id AS deal_id")

    def factors(strength: float, seed: int) -> dict[tuple[int, int], float]:
        column = rf.exploration_factor(pairs["user_id"], pairs["deal_id"], strength=strength, seed=seed)
        return {(r[0], r[1]): r[2] for r in pairs.select("user_id", "deal_id", column).collect()}

    drawn = factors(0.5, 13)
    assert drawn == factors(0.5, 13)  # the same list on every read
    assert drawn != factors(0.5, 14)
    assert set(factors(0.0, 13).values()) == {1.0}
    # factor = exp(s x G) with G standard Gumbel: exp(-exp(-G)) is uniform on (0, 1)
    uniforms = sorted(math.exp(-math.exp(-math.log(f) / 0.5)) for f in drawn.values())
    worst_gap = max(abs(u - (i + 0.5) / len(uniforms)) for i, u in enumerate(uniforms))
    assert 0 < uniforms[0] and uniforms[-1] < 1 and worst_gap < 1.63 / math.sqrt(len(uniforms))  # KS at 1 %


def test_exploration_spreads_the_lists_of_users_with_the_same_tastes(spark: Any) -> None:
    """Users 1-4 share a home and their history of 100 and 101; with exploration their lists are not one list."""
    history, deals = _symmetric_history(spark)
    more = deals.unionByName(deals_df(spark, [deal_row(130 + d, NEAR) for d in range(12)]))

    def lists(exploration: float) -> set[tuple[int, ...]]:
        params = dataclasses.replace(BLEND, exploration=exploration)
        blend = LocationAwareBlend(Als(TINY_ALS, 50), Popularity(50), params)
        blend.fit(history)
        ranked = rank_for(blend, history, history.homes, more, n=3, per_merchant=2).collect()
        return {tuple(r["deal_id"] for r in sorted(ranked, key=lambda r: r["rank"]) if r["user_id"] == u)
                for u in (1, 2, 3, 4)}

    assert len(lists(0.0)) <= 2  # by score alone the same history gives (nearly) the same list
    assert len(lists(1.0)) > len(lists(0.0))


def test_a_cold_start_user_gets_a_non_empty_local_list(spark: Any) -> None:
    history, deals = _symmetric_history(spark)
    blend = _blend(history)
    newcomer = spark.createDataFrame([(9, *HOME, geohash(*HOME, AREA_PRECISION))], s.USER_HOME_SCHEMA)
    ranked = rank_for(blend, history, newcomer, deals, n=10, per_merchant=2).collect()
    assert ranked, "a user the model does not know still gets recommendations"
    places = {r[0]: (r[6], r[7]) for r in deals.collect()}
    assert all(haversine_km(*HOME, *places[r["deal_id"]]) < 50 for r in ranked[:3])  # the top is local
    scored = {r["deal_id"]: r["reason"] for r in blend.score(newcomer, deals).collect()}
    assert scored[120] == "new in yoga"  # nobody touched 120 yet: it reaches the newcomer as new
    assert {scored[d] for d in (100, 111)} == {"popular near you"}


def test_recommendations_never_contain_a_bought_or_expired_deal(spark: Any) -> None:
    history, deals = _symmetric_history(spark)
    bought_rows = [event(50, 1, 100, "purchase"), event(51, 1, 101, "click")]
    events = events_df(spark, bought_rows)
    extra = rf.to_interactions(events, now=NOW, half_life_s=86_400)
    history = History(history.interactions.unionByName(extra).cache(), history.homes)
    blend = _blend(history)
    live = deals.filter("deal_id != 111")  # 111 expired since training: not a candidate any more
    ranked = {r["deal_id"] for r in rank_for(blend, history, history.homes.filter("user_id = 1"), live, n=10,
                                            per_merchant=2).collect()}
    assert ranked and 100 not in ranked and 111 not in ranked
    assert 101 in ranked  # clicked, not bought: may still be recommended


def test_reasons_name_what_the_user_did(spark: Any) -> None:
    history, deals = _symmetric_history(spark)
    blend = _blend(history)
    reasons = {r["reason"] for r in blend.score(history.homes, deals).collect()}
    assert reasons <= {"because you looked at Deal 100", "because you looked at Deal 101", "popular near you",
                       "new in yoga", "popular with people like you"} | {f"because you looked at Deal {110 + u}"
                                                                          for u in (1, 2, 3, 4)}
    assert any(r.startswith("because you looked at") for r in reasons)


@pytest.mark.parametrize(("text", "want"), [
    ("2026-12-05T01:00:00Z", datetime(2026, 12, 5, 1, tzinfo=UTC)),
    ("2026-12-05T02:00:00+01:00", datetime(2026, 12, 5, 1, tzinfo=UTC)),
    ("2026-12-05T01:00:00", datetime(2026, 12, 5, 1, tzinfo=UTC)),  # no offset: UTC, not the machine's zone
])
def test_the_training_time_option_reads_iso_times_as_utc(text: str, want: datetime) -> None:
    from batch.recommend_job import utc_time

    assert utc_time(text) == want and utc_time(text).tzinfo == UTC


def test_a_training_time_that_is_not_iso_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from batch.recommend_job import main

    with pytest.raises(SystemExit) as stopped:
        main(["--now", "yesterday"])
    assert stopped.value.code == 2 and "not an ISO 8601 time: 'yesterday'" in capsys.readouterr().err


def test_the_grid_scores_a_seeded_sample_of_the_validation_users() -> None:
    relevant = {user: {user * 10} for user in range(50)}
    assert sample_users(relevant, 50, seed=13) == relevant
    sample = sample_users(relevant, 20, seed=13)
    assert len(sample) == 20 and all(relevant[user] == deals for user, deals in sample.items())
    assert sample == sample_users(dict(reversed(relevant.items())), 20, seed=13)  # the same users every time
