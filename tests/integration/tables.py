"""Read whole test-keyspace tables and compare them with the independent expectations."""
from __future__ import annotations

from typing import Any

from tests import expected

SORTED_KEY_COLUMNS = {
    "deals_by_category_discount": ("category_slug", "discount_pct", "deal_id"),
    "deals_by_category_price": ("category_slug", "price", "deal_id"),
    "online_deals_by_category": ("parent_category", "discount_pct", "deal_id"),
    "deals_by_geocell": ("geocell", "deal_id"),
    "deals_by_merchant": ("merchant_id", "deal_id"),
}
#: The deal score's tables (issue 12): the streaming/batch parity test compares them too.
SCORE_TABLES = (
    "deal_scores_by_id", "deal_score_versions", "offer_prices_by_item", "deals_by_category_verified_discount",
    "deals_by_category_verified_saving", "deal_scores_by_merchant", "merchant_honesty_by_category",
)
ALL_TABLES = (
    "deals_by_id", *SORTED_KEY_COLUMNS, "price_history_by_deal", "merchants_by_category",
    "merchant_rank_keys", "dead_letters_by_day", "deal_versions",
    *SCORE_TABLES,
)


def rows(session: Any, table: str) -> list[dict[str, Any]]:
    # Test keyspace only, a few thousand rows: a full read is the point of the comparison.
    return [row._asdict() for row in session.execute(f"SELECT * FROM {table}")]


def snapshot(session: Any) -> dict[str, set[tuple[Any, ...]]]:
    """Every table as a set of full rows (order-free, for parity comparisons)."""
    return {t: {tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in r.items()))
                for r in rows(session, t)} for t in ALL_TABLES}


def assert_deal_tables_match(session: Any, raws: list[dict[str, Any]]) -> None:
    """deals_by_id, the sorted tables, price history and the merchant ranking equal the oracle."""
    want = {i: expected.deal_row(raw) for i, raw in expected.latest_by_id(raws).items()}
    got = {r["deal_id"]: r for r in rows(session, "deals_by_id")}
    assert set(got) == set(want), f"missing {set(want) - set(got)}, unexpected {set(got) - set(want)}"
    mismatched = {i: (got[i], want[i]) for i in want if got[i] != want[i]}
    assert not mismatched, f"{len(mismatched)} rows differ, e.g. {next(iter(mismatched.items()))}"
    version_columns = ("deal_id", "updated_at", "category_slug", "parent_category", "discount_pct", "price",
                       "online", "geocell", "merchant_id")
    got_versions = {tuple(r[c] for c in version_columns) for r in rows(session, "deal_versions")}
    assert got_versions == {tuple(w[c] for c in version_columns) for w in want.values()}
    want_keys = expected.sorted_table_rows(list(want.values()))
    for table, columns in SORTED_KEY_COLUMNS.items():
        got_keys = {tuple(r[c] for c in columns) for r in rows(session, table)}
        assert got_keys == want_keys[table], (
            f"{table}: stale {got_keys - want_keys[table]}, missing {want_keys[table] - got_keys}")
    history = {(r["deal_id"], r["observed_at"], r["price"]) for r in rows(session, "price_history_by_deal")}
    versions = [expected.deal_row(raw) for raw in expected.latest_by_version(raws)]
    want_history = {(v["deal_id"], v["updated_at"], v["price"]) for v in versions}
    assert history == want_history
    ranking = {(r["category_slug"], r["deals_sold"], r["merchant_id"], r["deal_count"])
               for r in rows(session, "merchants_by_category")}
    assert ranking == expected.merchant_ranking(list(want.values()))
