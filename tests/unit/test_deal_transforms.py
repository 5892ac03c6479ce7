"""Every deal transform on small inline frames, each with null or malformed rows, compared whole."""
from __future__ import annotations

import random
from datetime import datetime

import orjson
import pytest
from chispa.schema_comparer import assert_schema_equality

from pipeline import deal_transforms as dt
from pipeline import schemas
from pipeline import table_rows as tr
from pipeline.geo import with_geohash
from tests import expected, factories
from tests.conftest import raw_records
from tests.frames import assert_frames_equal

WHEN = datetime(2026, 11, 20, 8, 30, 0)


def raw_df(spark, payloads, **kwargs):
    return spark.createDataFrame(raw_records(payloads, timestamp=WHEN, **kwargs), schemas.RAW_RECORD_SCHEMA)


def clean(spark, payloads, **kwargs):
    return raw_df(spark, payloads, **kwargs).transform(dt.parse_deal_records).transform(
        dt.filter_valid_deals).transform(dt.clean_deals)


def test_parse_requires_the_raw_record_columns(spark):
    with pytest.raises(ValueError, match=r"missing columns \['topic', 'partition'"):
        dt.parse_deal_records(spark.createDataFrame([("k", "v")], "key string, value string"))


def test_rejected_records_carry_reason_and_raw_payload(spark):
    rng = random.Random(1)
    good = factories.deal(rng, 1)
    payloads = [
        None, "  ", "{oops", orjson.dumps({**good, "number_sold": "many"}).decode(),
        orjson.dumps({k: v for k, v in good.items() if k != "title"}).decode(),
        orjson.dumps({**good, "value": 1.0, "price": 2.0}).decode(), good,
    ]
    got = dt.to_dead_letter_rows(raw_df(spark, payloads).transform(dt.parse_deal_records))
    reasons = [
        "empty payload", "empty payload", "payload is not a JSON object (malformed or truncated JSON)",
        "field 'number_sold' is not a number", "missing required field 'title'", "value 1.0 below price 2.0",
    ]
    want = spark.createDataFrame(
        [("2026-11-20", WHEN, f"test-0-{i}", reason, payloads[i], "test") for i, reason in enumerate(reasons)],
        schemas.DEAD_LETTERS_BY_DAY_SCHEMA,
    )
    assert_frames_equal(got, want)


def test_clean_deals_match_the_documented_rules(spark):
    rng = random.Random(2)
    html = factories.deal(rng, 10, description="<p>Fish &amp; chips</p>\n<br/>  daily ", category_slug=" Restaurants ")
    online = factories.deal(rng, 11, online=True, number_sold=None, discount_percentage=None,
                            merchant={**factories.merchant(rng, 5, online=False), "name": "  Shop  ", "address": ""})
    parent = factories.deal(rng, 12, category_slug="health-beauty", fine_print=None, short_title="   ")
    payloads = [html, online, parent]
    got = tr.to_deals_by_id_rows(clean(spark, payloads))
    want = spark.createDataFrame([expected.deal_row(p) for p in payloads], schemas.DEALS_BY_ID_SCHEMA)
    assert_schema_equality(got.schema, schemas.DEALS_BY_ID_SCHEMA, ignore_nullable=True)
    assert_frames_equal(got, want)


def test_latest_version_wins_and_ties_go_to_the_later_record(spark):
    rng = random.Random(3)
    v1 = factories.deal(rng, 20, updated_at=factories.BASE_TIME)
    v2 = factories.deal(rng, 20, updated_at=factories.BASE_TIME.replace(hour=13))
    v2_again = {**v2, "price": 1.0, "value": 2.0}
    other = factories.deal(rng, 21)
    got = clean(spark, [v2, v2_again, v1, other]).transform(dt.latest_deal_versions).select("deal_id", "price")
    want = spark.createDataFrame([(20, 1.0), (21, round(other["price"], 2))], "deal_id long, price double")
    assert_frames_equal(got, want)


def test_price_history_keeps_every_version_once(spark):
    rng = random.Random(4)
    v1 = factories.deal(rng, 30, updated_at=factories.BASE_TIME)
    v2 = factories.deal(rng, 30, updated_at=factories.BASE_TIME.replace(hour=14))
    replay = {**v1, "price": 3.0, "value": 4.0}
    got = dt.to_price_history_rows(clean(spark, [v1, v2, replay]))
    rows = [expected.deal_row(r) for r in (replay, v2)]
    want = spark.createDataFrame(
        [(r["deal_id"], r["updated_at"], r["price"], r["value"], r["discount_pct"]) for r in rows],
        schemas.PRICE_HISTORY_BY_DEAL_SCHEMA,
    )
    assert_frames_equal(got, want)


def test_geohash_matches_the_textbook_encoder(spark):
    rng = random.Random(5)
    points = [(57.64911, 10.40744), (-90.0, -180.0), (89.99999, 179.99999), (None, 3.0)]
    points += [(rng.uniform(-90, 90), rng.uniform(-180, 180)) for _ in range(200)]
    df = spark.createDataFrame(points, "lat double, lon double")
    got = with_geohash(df, lat_col="lat", lon_col="lon", out_col="gh", precision=11)
    want = spark.createDataFrame(
        [(lat, lon, None if lat is None else expected.geohash(lat, lon, 11)) for lat, lon in points],
        "lat double, lon double, gh string",
    )
    assert_frames_equal(got, want)
    assert expected.geohash(57.64911, 10.40744, 11) == "u4pruydqqvj"  # the published reference point


def test_listing_categories_are_own_and_parent_without_duplicates(spark):
    rng = random.Random(6)
    child, parent = factories.deal(rng, 40, category_slug="yoga"), factories.deal(rng, 41, category_slug="fitness")
    got = tr.explode_listing_categories(clean(spark, [child, parent])).select("deal_id", "listing_category")
    want = spark.createDataFrame([(40, "yoga"), (40, "fitness"), (41, "fitness")],
                                 "deal_id long, listing_category string")
    assert_frames_equal(got, want)


def test_stale_keys_are_old_keys_missing_from_new_rows(spark):
    key_schema = "category_slug string, discount_pct double, deal_id long"
    old = spark.createDataFrame([("a", 0.5, 1), ("a", 0.2, 2)], key_schema)
    new = spark.createDataFrame([("a", 0.6, 1), ("a", 0.2, 2)], key_schema)
    got = tr.stale_keys(old, new, ("category_slug", "discount_pct", "deal_id"))
    assert_frames_equal(got, spark.createDataFrame([("a", 0.5, 1)], old.schema))


def test_versions_older_than_stored_are_dropped(spark):
    latest = spark.createDataFrame(
        [(1, datetime(2026, 1, 2)), (2, datetime(2026, 1, 1)), (3, datetime(2026, 1, 5))],
        "deal_id long, updated_at timestamp")
    stored = spark.createDataFrame([(1, datetime(2026, 1, 1)), (2, datetime(2026, 1, 3))], latest.schema)
    got = tr.filter_newer_than_stored(latest, stored)
    want = spark.createDataFrame(
        [(1, datetime(2026, 1, 2), True), (3, datetime(2026, 1, 5), False)],
        "deal_id long, updated_at timestamp, is_replacing boolean")
    assert_frames_equal(got, want)


def test_merchant_ranking_sums_sold_per_listing_category(spark):
    rows = [(7, 1, "M", "yoga", "fitness", 10), (7, 2, "M", "gym", "fitness", None), (8, 3, "N", "yoga", "fitness", 4)]
    deals_df = spark.createDataFrame(rows, "merchant_id long, deal_id long, merchant_name string, "
                                           "category_slug string, parent_category string, number_sold int")
    got = tr.to_merchants_by_category_rows(deals_df)
    want = spark.createDataFrame(
        [("yoga", 10, 7, "M", 1), ("gym", 0, 7, "M", 1), ("fitness", 10, 7, "M", 2),
         ("yoga", 4, 8, "N", 1), ("fitness", 4, 8, "N", 1)], schemas.MERCHANTS_BY_CATEGORY_SCHEMA)
    assert_frames_equal(got, want)
