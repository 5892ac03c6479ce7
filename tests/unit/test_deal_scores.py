"""The deal score on small fixtures with hand-worked answers, compared whole with the oracle."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pyspark.sql import types as T

from pipeline import deal_scores as ds
from pipeline import score_rules as sr
from pipeline.item_keys import with_item_key
from pipeline.score_schemas import DEAL_SCORE_SCHEMA
from tests.frames import assert_frames_equal
from tests.score_oracle import at, score

T0 = datetime(2026, 11, 1, 12, 0, 0)
RULES = sr.ScoreRules()
VERSION_SCHEMA = T.StructType([T.StructField(n, t) for n, t in (
    ("deal_id", T.LongType()), ("updated_at", T.TimestampType()), ("price", T.DoubleType()),
    ("value", T.DoubleType()), ("discount_pct", T.DoubleType()), ("merchant_id", T.LongType()),
    ("expires_at", T.TimestampType()), ("number_sold", T.IntegerType()), ("item_key", T.StringType()))])
OBSERVATION_SCHEMA = "deal_id long, observed_at timestamp, price double, number_sold int"
OFFER_SCHEMA = "item_key string, deal_id long, merchant_id long, observed_at timestamp, price double, " \
               "expires_at timestamp"
EARBUDS = "online|acme x200 wireless earbuds"
MASSAGE_CHICAGO = "area:dp3|health-beauty|60-minute swedish massage"
MASSAGE_NEW_YORK = "area:dr5|health-beauty|60-minute swedish massage"
CABLE = "online|usb-c cable 2m"
DEEP_TISSUE_CHICAGO = "area:dp3|health-beauty|90-minute deep tissue massage"


def version(deal_id: int, price: float, value: float, *, when: datetime = T0, merchant: int | None = None,
            item: str | None = None, expires: datetime | None = None, sold: int | None = None) -> dict[str, Any]:
    pct = round((value - price) / value, 4)
    return {"deal_id": deal_id, "updated_at": when, "price": price, "value": value, "discount_pct": pct,
            "merchant_id": merchant if merchant is not None else 100 + deal_id, "expires_at": expires,
            "number_sold": sold, "item_key": item}


VERSIONS = [
    version(1, 60.0, 100.0),  # no history, no item: the claim stands alone
    version(2, 60.0, 100.0),  # 50 twenty days ago, raised to 80, now "40 % off": Omnibus
    version(3, 92.0, 200.0, item=EARBUDS),  # MSRP claim far above what 4 others charge
    version(31, 100.0, 100.0, item=EARBUDS), version(32, 105.0, 105.0, item=EARBUDS),
    version(33, 95.0, 100.0, item=EARBUDS), version(34, 98.0, 100.0, item=EARBUDS),
    version(4, 45.0, 90.0, item=MASSAGE_CHICAGO),  # its only comparables are in New York
    version(41, 80.0, 80.0, item=MASSAGE_NEW_YORK), version(42, 82.0, 82.0, item=MASSAGE_NEW_YORK),
    version(12, 45.0, 120.0, item=DEEP_TISSUE_CHICAGO),  # two comparable offers in the same area: 70 and 80
    version(43, 70.0, 70.0, item=DEEP_TISSUE_CHICAGO), version(44, 80.0, 80.0, item=DEEP_TISSUE_CHICAGO),
    version(6, 70.0, 100.0, item=CABLE),  # 30-day low 80 ties the street price 80
    version(61, 80.0, 80.0, item=CABLE), version(62, 80.0, 90.0, item=CABLE),
    version(7, 70.0, 100.0),  # was 100 five days ago: a real 30 % and a new low
    version(8, 9.99, 20.0, item="online|hdmi 4k adapter"),  # median of $10.00 and $10.01 rounds up
    version(81, 10.0, 10.0, item="online|hdmi 4k adapter"), version(82, 10.01, 10.01, item="online|hdmi 4k adapter"),
    version(9, 50.0, 100.0),  # at 50 for 40 days: a perpetual sale
    version(11, 60.0, 100.0),  # seen at 40 45 days ago, unchanged until now: 40 was applied in the window
    version(10, 30.0, 40.0, expires=at(T0, hours=24), sold=400),  # 150 sold/day, ends soon, price unmoved
]
OBSERVATIONS = [
    {"deal_id": 2, "observed_at": at(T0, -20), "price": 50.0, "number_sold": None},
    {"deal_id": 2, "observed_at": at(T0, -10), "price": 80.0, "number_sold": None},
    {"deal_id": 6, "observed_at": at(T0, -3), "price": 80.0, "number_sold": 5},
    {"deal_id": 7, "observed_at": at(T0, -5), "price": 100.0, "number_sold": 1},
    {"deal_id": 9, "observed_at": at(T0, -40), "price": 50.0, "number_sold": 0},
    {"deal_id": 9, "observed_at": at(T0, -20), "price": 50.0, "number_sold": 0},
    {"deal_id": 10, "observed_at": at(T0, -2), "price": 30.0, "number_sold": 100},
    {"deal_id": 11, "observed_at": at(T0, -45), "price": 40.0, "number_sold": None},
] + [{"deal_id": v["deal_id"], "observed_at": v["updated_at"], "price": v["price"],
      "number_sold": v["number_sold"]} for v in VERSIONS]
OFFERS = [
    {"item_key": EARBUDS, "deal_id": 35, "merchant_id": 103, "observed_at": at(T0, -1), "price": 10.0,
     "expires_at": None},  # deal 3's own merchant: never its own competitor
    {"item_key": EARBUDS, "deal_id": 36, "merchant_id": 136, "observed_at": at(T0, -2), "price": 20.0,
     "expires_at": at(T0, -1)},  # expired before the version
    {"item_key": EARBUDS, "deal_id": 37, "merchant_id": 137, "observed_at": at(T0, hours=1), "price": 30.0,
     "expires_at": None},  # observed after the version
    {"item_key": EARBUDS, "deal_id": 31, "merchant_id": 131, "observed_at": at(T0, -4), "price": 150.0,
     "expires_at": None},  # 31's older price: only its last one counts
] + [{"item_key": v["item_key"], "deal_id": v["deal_id"], "merchant_id": v["merchant_id"],
      "observed_at": v["updated_at"], "price": v["price"], "expires_at": v["expires_at"]}
     for v in VERSIONS if v["item_key"]]


def scores(spark):
    versions_df = spark.createDataFrame(VERSIONS, VERSION_SCHEMA)
    got_df = ds.score_deal_versions(versions_df, spark.createDataFrame(OBSERVATIONS, OBSERVATION_SCHEMA),
                                    spark.createDataFrame(OFFERS, OFFER_SCHEMA), RULES)
    return got_df, {r["deal_id"]: r for r in got_df.collect()}


def test_score_frame_equals_the_independent_computation(spark):
    got_df, _ = scores(spark)
    want = [score(v, OBSERVATIONS, OFFERS, RULES) for v in VERSIONS]
    assert_frames_equal(got_df, spark.createDataFrame(want, DEAL_SCORE_SCHEMA))


def test_hand_worked_answers(spark):
    _, got = scores(spark)
    summary = {i: (r["reference_price"], r["reference_kind"], r["verified_discount_pct"], r["is_genuine"],
                   r["flags"]) for i, r in got.items() if i < 30 or i > 99}
    assert summary == {
        1: (100.0, sr.CLAIMED_VALUE, 0.4, True, []),
        2: (50.0, sr.PRIOR_30_DAY_LOW, 0.0, False, [sr.RAISED_BEFORE_DISCOUNT]),
        3: (99.0, sr.STREET_PRICE, 0.0707, False, [sr.INFLATED_VALUE]),  # (9800 + 10000) / 2 cents
        4: (90.0, sr.CLAIMED_VALUE, 0.5, True, []),
        12: (75.0, sr.AREA_COMPARABLE, 0.4, False, [sr.INFLATED_VALUE]),  # median of 70 and 80; 120 > 1.25 x 75
        6: (80.0, sr.PRIOR_30_DAY_LOW, 0.125, False, [sr.NEW_HISTORIC_LOW, sr.LOWEST_IN_90_DAYS]),
        7: (100.0, sr.PRIOR_30_DAY_LOW, 0.3, True, [sr.NEW_HISTORIC_LOW, sr.LOWEST_IN_90_DAYS]),
        8: (10.01, sr.STREET_PRICE, 0.002, False, [sr.INFLATED_VALUE]),
        9: (50.0, sr.PRIOR_30_DAY_LOW, 0.0, False, [sr.PERPETUAL_SALE, sr.LOWEST_IN_90_DAYS]),
        11: (40.0, sr.PRIOR_30_DAY_LOW, 0.0, False, []),
        10: (40.0, sr.CLAIMED_VALUE, 0.25, True, [sr.LOWEST_IN_90_DAYS, sr.ENDS_SOON, sr.LIKELY_TO_SELL_OUT]),
    }
    assert got[3]["explanation"] == ("The merchant claims $200.00; 4 other sellers offer it for $95.00–$105.00; "
                                     "the real discount is 7%, not 54%.")
    assert got[8]["verified_saving"] == 0.02
    assert got[12]["explanation"] == ("The merchant claims $120.00; 2 comparable offers nearby cost $70.00–$80.00; "
                                      "the real discount is 40%, not 63%.")
    assert got[1]["explanation"] == ("The merchant claims $100.00; there is no price history or other seller to "
                                     "check it against; the 40% discount is unverified.")


def test_item_keys_need_an_identifying_token_and_a_place(spark):
    rows = [("$92 for a Acme X200 Wireless Earbuds ($200 Value)", True, None, "product"),
            ("54% Off Acme X200 Wireless Earbuds", True, None, "product"),
            ("Up to 50% Off 60-Minute Swedish Massage at Golden Spa ", False, "dp3wxyz", "health-beauty"),
            ("$25 for $50 Worth of Sushi at Blue Bistro", False, "dp3wxyz", "restaurants"),
            ("60-Minute Swedish Massage", False, None, "health-beauty"), (None, True, None, "product")]
    df = spark.createDataFrame(rows, "title string, online boolean, geohash string, category_slug string")
    got = [r["item_key"] for r in with_item_key(df).collect()]
    assert got == [EARBUDS, EARBUDS, MASSAGE_CHICAGO, None, None, None]
