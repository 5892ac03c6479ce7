"""The relational steps of interest matching, over the few rows of a small micro-batch held by the driver.

The alert transforms (`alert_transforms`, `alert_delivery`) join, window and rank in Spark, and each
such step is a Spark job: beside the deals stream on two cores 0.2-0.7 s each, and a small batch ran
four (match, re-arm, decide, the state's aggregate). Here are the same steps over rows in plain
Python: the first record of a version, the equi-join on the index key, the stored score and state of
each match, the lowest earlier price of a pair, the place under the daily cap, the state per pair.
Every rule of a single row (the criteria, the verified discount, "newer than the state", the re-arm
and delivery decisions, ids and reasons) stays in the Spark columns of those modules, which Spark
evaluates over a slot's rows on the driver without a job (`pipeline.plan_templates`). Each function
names the Spark step it restates; tests/unit/test_alert_steps.py checks that a batch taken through
them writes every row the Spark steps write.

Rows come in as Spark `Row`s (collected: naive datetimes in local time) or the Cassandra driver's
tuples (aware UTC datetimes), and go out as tuples in a slot's field order.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Row

Pair = tuple[str, int]  # (interest id, deal id), `alert_transforms.PAIR`
INTEREST_ID = 2  # the interest id's place in an INTERESTS_BY_KEY_SCHEMA row (after the key and the user)


def first_records(records: Sequence[Row]) -> list[Row]:
    """One row per version (deal id, updated_at): its first record, the lowest offset (`alert_versions`)."""
    first: dict[tuple[int, datetime], Row] = {}
    for row in records:
        version = (row["deal_id"], row["updated_at"])
        if version not in first or row["source_offset"] < first[version]["source_offset"]:
            first[version] = row
    return list(first.values())


def joined_pairs(versions: Sequence[Row], interests: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each version beside each interest filed under one of its `index_keys` (its last column), once per
    (interest, version) however many keys they share: the join and the dedup of `match_interests`.
    A row is the version's columns but the keys, then the interest's but its key."""
    filed: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for interest in interests:
        filed[interest[0]].append(interest)
    pairs: dict[tuple[str, int, datetime], tuple[Any, ...]] = {}
    for version in versions:
        for key in version["index_keys"]:
            for interest in filed.get(key, ()):
                pair = (interest[INTEREST_ID], version["deal_id"], version["updated_at"])
                pairs.setdefault(pair, (*version[:-1], *interest[1:]))
    return list(pairs.values())


def needing_scores(matched: Sequence[Row]) -> set[tuple[int, datetime]]:
    """The versions whose verified discount a match asks for (`alert_sink.versions_needing_scores`)."""
    return {(row["deal_id"], row["updated_at"]) for row in matched if row["min_verified_discount"] is not None}


def capped_days(matched: Sequence[Row]) -> list[tuple[str, str]]:
    """(interest, UTC day) of the instant matches of capped interests (`alert_sink.day_keys`)."""
    return sorted({(row["interest_id"], _utc(row["received_at"]).strftime("%Y-%m-%d")) for row in matched
                   if row["delivery"] == "INSTANT" and row["max_per_day"] is not None})


def with_stored(matched: Sequence[Row], scores: Sequence[tuple[Any, ...]],
                state: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each match with its version's `verified_discount_pct`, and its pair's stored `last_price` and
    `last_updated_at` (null when absent): the left joins of `with_verified_discount` and `fired_alerts`.
    `scores` are VERSION_SCORE_SCHEMA rows, `state` ALERT_STATE_BY_DEAL_SCHEMA rows."""
    score_of = {(deal_id, _utc(updated_at)): pct for deal_id, updated_at, pct in scores}
    state_of = {(interest_id, deal_id): (price, updated_at) for deal_id, interest_id, price, updated_at in state}
    return [(*row, score_of.get((row["deal_id"], _utc(row["updated_at"]))),
             *state_of.get((row["interest_id"], row["deal_id"]), (None, None))) for row in matched]


def earlier_prices(newer: Sequence[Row]) -> list[float | None]:
    """For each newer match, the lowest price of its pair's newer matches before it (in
    `alert_transforms.PAIR_ORDER`), None for the first: the window of `fired_alerts`."""
    by_pair: dict[Pair, list[int]] = defaultdict(list)
    for index, row in enumerate(newer):
        by_pair[row["interest_id"], row["deal_id"]].append(index)
    lowest: list[float | None] = [None] * len(newer)
    for indices in by_pair.values():
        indices.sort(key=lambda i: (newer[i]["updated_at"], newer[i]["source_offset"]))
        low: float | None = None
        for index in indices:
            lowest[index] = low
            price = newer[index]["price"]
            if price is not None:  # min() over a window skips nulls
                low = price if low is None else min(low, price)
    return lowest


def cap_positions(dated: Sequence[Row], stored_days: Sequence[tuple[Any, ...]]) -> list[int | None]:
    """The place of each candidate among its interest-day's instant alerts, None for the others: the
    stored instant ones first (but this batch's own, a replay's first attempt), then the batch's
    candidates by (alert_at, alert id) (`alert_delivery._cap_positions`). `stored_days` are
    ALERTS_BY_INTEREST_DAY_SCHEMA rows."""
    own = {row["alert_id"] for row in dated}
    taken = Counter((interest_id, day) for interest_id, day, _, alert_id, _, delivery in stored_days
                    if delivery == "INSTANT" and alert_id not in own)
    positions: list[int | None] = [None] * len(dated)
    candidates = sorted((i for i, row in enumerate(dated) if row["is_candidate"]),
                        key=lambda i: (dated[i]["alert_at"], dated[i]["alert_id"]))
    for index in candidates:
        day = (dated[index]["interest_id"], dated[index]["day"])
        taken[day] += 1
        positions[index] = taken[day]
    return positions


def state_rows(alerts: Sequence[Row]) -> list[tuple[Any, ...]]:
    """ALERT_STATE_BY_DEAL_SCHEMA rows of the alerts: per pair the lowest alerted price and the newest
    alerted version (`alert_delivery.to_alert_state_rows`; like its min(), a null price is skipped)."""
    prices: dict[tuple[int, str], list[float]] = defaultdict(list)
    newest: dict[tuple[int, str], datetime] = {}
    for row in alerts:
        key = (row["deal_id"], row["interest_id"])
        if row["price"] is not None:
            prices[key].append(row["price"])
        newest[key] = max(newest.get(key, row["updated_at"]), row["updated_at"])
    return [(*key, min(prices[key], default=None), updated_at) for key, updated_at in newest.items()]


def _utc(moment: datetime) -> datetime:
    """An instant as aware UTC (a naive datetime is local time, as Spark's `collect` gives it)."""
    return moment.astimezone(UTC)
