"""The score sink over real Cassandra: every score table equals the plain-Python oracle, a changed
score leaves no stale sort row, and the merchant honesty follows the newest scores."""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from pipeline import score_rules as sr
from pipeline.score_rules import ScoreRules
from tests import expected, factories
from tests.conftest import deals_sink_runner
from tests.expected import round_half_up
from tests.integration.tables import rows
from tests.market_factories import market
from tests.score_oracle import scores_of_rows

pytestmark = pytest.mark.integration


def check_scores(session: Any, raws: list[dict[str, Any]]) -> None:
    versions = [expected.deal_row(raw) for raw in expected.latest_by_version(raws)]
    want = {(s["deal_id"], s["updated_at"]): s for s in scores_of_rows(versions, ScoreRules())}
    columns = ("reference_price", "reference_kind", "verified_discount_pct", "verified_saving",
               "advertised_discount_pct", "is_genuine", "explanation")
    got = {(r["deal_id"], r["updated_at"]): r for r in rows(session, "deal_score_versions")}
    assert set(got) == set(want)
    for key, score in want.items():
        assert tuple(got[key][c] for c in columns) == tuple(score[c] for c in columns), key
        assert list(got[key]["flags"] or []) == score["flags"], key
    latest = {i: want[(i, expected.deal_row(raw)["updated_at"])] for i, raw in expected.latest_by_id(raws).items()}
    deal_rows = {i: expected.deal_row(raw) for i, raw in expected.latest_by_id(raws).items()}
    by_id_columns = ("updated_at", *columns, "prior_low_30d", "market_price", "market_sellers", "market_low",
                     "market_high", "item_key")
    by_id = {r["deal_id"]: tuple(r[c] for c in by_id_columns) for r in rows(session, "deal_scores_by_id")}
    assert by_id == {i: tuple(s[c] for c in by_id_columns) for i, s in latest.items()}
    want_keys = {(cat, s["verified_discount_pct"], i) for i, s in latest.items()
                 for cat in {deal_rows[i]["category_slug"], deal_rows[i]["parent_category"]}}
    got_keys = {(r["category_slug"], r["verified_discount_pct"], r["deal_id"])
                for r in rows(session, "deals_by_category_verified_discount")}
    assert got_keys == want_keys, f"stale {got_keys - want_keys}, missing {want_keys - got_keys}"
    saving_keys = {(r["category_slug"], r["verified_saving"], r["deal_id"])
                   for r in rows(session, "deals_by_category_verified_saving")}
    assert saving_keys == {(c, latest[i]["verified_saving"], i) for c, _, i in want_keys}
    check_honesty(session, deal_rows, latest, incidents(want.values()))


def incidents(scores: Any) -> dict[int, int]:
    """Per deal: how many of its versions claimed an inflated value."""
    counts: dict[int, int] = {}
    for s in scores:
        counts[s["deal_id"]] = counts.get(s["deal_id"], 0) + int(sr.INFLATED_VALUE in s["flags"])
    return counts


def check_honesty(session: Any, deal_rows: dict[int, dict[str, Any]], latest: dict[int, dict[str, Any]],
                  inflated: dict[int, int]) -> None:
    """merchant_honesty_by_category, every column, against the newest score of each deal."""
    totals: dict[tuple[str, int], list[Any]] = {}
    for i, row in deal_rows.items():
        for cat in {row["category_slug"], row["parent_category"]}:
            acc = totals.setdefault((cat, row["merchant_id"]), [None, 0, 0, 0, 0, 0])
            acc[0] = max(filter(None, (acc[0], row["merchant_name"])), default=None)  # the sink's max(name)
            acc[1] += 1
            acc[2] += int(latest[i]["reference_kind"] != sr.CLAIMED_VALUE)
            acc[3] += int(latest[i]["is_genuine"])
            acc[4] += inflated[i]
            acc[5] += row["number_sold"] or 0
    want = {key: (name, scored, verified, genuine, round_half_up(genuine / scored, 4),
                  round_half_up(verified / scored, 4), infl, sold)
            for key, (name, scored, verified, genuine, infl, sold) in totals.items()}
    columns = ("merchant_name", "scored_deals", "verified_deals", "genuine_deals", "honest_share",
               "verified_share", "inflation_incidents", "deals_sold")
    got = {(r["category_slug"], r["merchant_id"]): tuple(r[c] for c in columns)
           for r in rows(session, "merchant_honesty_by_category") if r["scored_deals"]}
    assert got == want


#: The two ways the score sink writes: a small batch from the driver, a large one through the connector.
WAYS = {"from-driver": {}, "connector": {"sink_driver_max_rows": 0}}


@pytest.fixture(params=sorted(WAYS))
def run_scored_batch(request, spark, settings, clean_tables):
    """The deal sink with its scores, switched to one of the ways above."""
    with deals_sink_runner(spark, settings.model_copy(update=WAYS[request.param])) as run:
        yield run


def test_scores_equal_the_oracle_and_follow_changes(run_scored_batch, cassandra_session):
    rng = random.Random(31)
    first = market(rng) + factories.deals(40, seed=32)
    run_scored_batch(first)
    check_scores(cassandra_session, first)
    # a day later: the inflating seller "discounts" again, a spa raises its price, others move category
    later = market(random.Random(33), days_later=1)
    later[0] = {**later[0], "price": 90.0}
    moved = [factories.deal(random.Random(i), r["id"], updated_at=factories.BASE_TIME + timedelta(days=2))
             for i, r in enumerate(first[9:30])]
    run_scored_batch(later + moved, start_offset=1000)
    check_scores(cassandra_session, first + later + moved)
