"""The score sink over real Cassandra: every score table equals the plain-Python oracle, a changed
score leaves no stale sort row, and the merchant honesty follows the newest scores."""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from pipeline.score_rules import ScoreRules
from tests import expected, factories
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
    by_id = {r["deal_id"]: r for r in rows(session, "deal_scores_by_id")}
    assert {i: by_id[i]["verified_discount_pct"] for i in by_id} == {i: s["verified_discount_pct"]
                                                                    for i, s in latest.items()}
    deal_rows = {i: expected.deal_row(raw) for i, raw in expected.latest_by_id(raws).items()}
    want_keys = {(cat, s["verified_discount_pct"], i) for i, s in latest.items()
                 for cat in {deal_rows[i]["category_slug"], deal_rows[i]["parent_category"]}}
    got_keys = {(r["category_slug"], r["verified_discount_pct"], r["deal_id"])
                for r in rows(session, "deals_by_category_verified_discount")}
    assert got_keys == want_keys, f"stale {got_keys - want_keys}, missing {want_keys - got_keys}"
    saving_keys = {(r["category_slug"], r["verified_saving"], r["deal_id"])
                   for r in rows(session, "deals_by_category_verified_saving")}
    assert saving_keys == {(c, latest[i]["verified_saving"], i) for c, _, i in want_keys}
    check_honesty(session, deal_rows, latest)


def check_honesty(session: Any, deal_rows: dict[int, dict[str, Any]], latest: dict[int, dict[str, Any]]) -> None:
    totals: dict[tuple[str, int], list[int]] = {}
    for i, row in deal_rows.items():
        for cat in {row["category_slug"], row["parent_category"]}:
            acc = totals.setdefault((cat, row["merchant_id"]), [0, 0])
            acc[0] += 1
            acc[1] += int(latest[i]["is_genuine"])
    got = {(r["category_slug"], r["merchant_id"]): [r["scored_deals"], r["genuine_deals"]]
           for r in rows(session, "merchant_honesty_by_category") if r["scored_deals"]}
    assert got == totals


def test_scores_equal_the_oracle_and_follow_changes(run_deals_batch, cassandra_session):
    rng = random.Random(31)
    first = market(rng) + factories.deals(40, seed=32)
    run_deals_batch(first)
    check_scores(cassandra_session, first)
    # a day later: the inflating seller "discounts" again, a spa raises its price, others move category
    later = market(random.Random(33), days_later=1)
    later[0] = {**later[0], "price": 90.0}
    moved = [factories.deal(random.Random(i), r["id"], updated_at=factories.BASE_TIME + timedelta(days=2))
             for i, r in enumerate(first[9:30])]
    run_deals_batch(later + moved, start_offset=1000)
    check_scores(cassandra_session, first + later + moved)
