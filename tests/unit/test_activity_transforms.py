"""Activity transforms on small inline frames, compared whole (nulls and malformed rows included)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from pipeline import activity_schemas as s
from pipeline import activity_transforms as at
from pipeline.schemas import RAW_RECORD_SCHEMA
from tests.frames import assert_frames_equal

T0 = datetime(2026, 1, 5, 12, 0, 0)
GOOD = {"event_id": "e1", "event_type": "purchase", "occurred_at": "2026-01-05T12:00:00.250Z", "user_id": 7,
        "deal_id": 42, "category_slug": "yoga", "price": 19.99, "quantity": 2}


def _raw(spark: Any, payloads: list[Any], received: datetime = T0) -> Any:
    rows = [(None, p if p is None or isinstance(p, str) else orjson.dumps(p).decode(), "ev", 0, i, received)
            for i, p in enumerate(payloads)]
    return spark.createDataFrame(rows, RAW_RECORD_SCHEMA)


def test_each_bad_event_gets_a_reason_and_a_good_one_none(spark: Any) -> None:
    payloads = [GOOD, None, "{oops", {**GOOD, "event_type": "hover"}, {**GOOD, "quantity": None},
                {**GOOD, "event_type": "review", "rating": 6}, {**GOOD, "user_id": "abc"},
                {**GOOD, "occurred_at": "2026-01-05T12:01:00Z"}, {**GOOD, "category_slug": None},
                {**GOOD, "lat": 40.0}]
    judged_df = _raw(spark, payloads).transform(at.parse_activity_records).transform(
        at.with_event_rejection_reason, future_tolerance_s=5.0)
    want = [("ev-0-0", None), ("ev-0-1", "empty payload"),
            ("ev-0-2", "payload is not a JSON object (malformed or truncated JSON)"),
            ("ev-0-3", "unknown event_type 'hover'"), ("ev-0-4", "a purchase needs a quantity of at least 1"),
            ("ev-0-5", "a review needs a rating of 1-5 stars"), ("ev-0-6", "field 'user_id' is not a number"),
            ("ev-0-7", "occurred_at is later than the event was received"),
            ("ev-0-8", "missing required field 'category_slug'"),
            ("ev-0-9", "lat/lon missing one half or out of range")]
    assert_frames_equal(judged_df.select("record_id", "rejection_reason"),
                        spark.createDataFrame(want, "record_id string, rejection_reason string"))


def test_clean_events_types_fields_and_keeps_absent_ones_null(spark: Any) -> None:
    events_df = (_raw(spark, [GOOD]).transform(at.parse_activity_records)
                 .transform(at.with_event_rejection_reason, future_tolerance_s=5.0)
                 .transform(at.filter_valid_events).transform(at.clean_events))
    want = [("e1", "purchase", datetime(2026, 1, 5, 12, 0, 0, 250000), T0, 7, None, None, None, None, 42, None,
             "yoga", "fitness", None, None, 19.99, 2, None, None)]
    assert_frames_equal(events_df, spark.createDataFrame(want, s.ACTIVITY_EVENT_SCHEMA))


@pytest.mark.parametrize(("lag_s", "is_late"), [(0.5, False), (30.0, False), (31.0, True)])
def test_events_beyond_the_allowed_lateness_are_late_and_not_counted(spark: Any, lag_s: float, is_late: bool) -> None:
    received = datetime(2026, 1, 5, 12, 0, 0, 250000) + timedelta(seconds=lag_s)
    events_df = (_raw(spark, [GOOD], received).transform(at.parse_activity_records)
                 .transform(at.with_event_rejection_reason, future_tolerance_s=5.0)
                 .transform(at.filter_valid_events).transform(at.clean_events))
    late_df = at.to_late_event_rows(at.filter_late_events(events_df, allowed_lateness_s=30.0))
    counted_df = at.aggregate_activity_windows(at.filter_on_time_events(events_df, allowed_lateness_s=30.0))
    assert (late_df.count(), counted_df.filter("metric = 'trend'").count()) == ((1, 0) if is_late else (0, 3))


def test_map_cells_under_the_user_floor_are_never_written(spark: Any) -> None:
    hour = datetime(2026, 1, 5, 12)
    windows = [(hour, "cell", 3600, hour, "dr5rs", None, 9, 1, 1, 0, 1, 10.0, 5, None, None),
               (hour, "cell", 3600, hour, "9q5ct", None, 9, 0, 0, 0, None, None, 4, None, None),
               (hour, "trend", 1, hour, "yoga", None, 1, 0, 0, 0, None, None, 0, None, None)]
    rows_df = at.to_activity_by_cell_rows(spark.createDataFrame(windows, s.ACTIVITY_WINDOW_SCHEMA), min_users=5)
    assert_frames_equal(rows_df, spark.createDataFrame([(5, "dr", hour, "dr5rs", 5, 11, 1)], s.ACTIVITY_BY_CELL_SCHEMA))


def test_cell_ratings_average_the_stars_of_cells_over_the_floor_only(spark: Any) -> None:
    hour = datetime(2026, 1, 5, 12)
    windows = [(hour, "cell", 3600, hour, "dr5rs", None, 9, 1, 1, 3, 1, 10.0, 5, None, 11),
               (hour, "cell", 3600, hour, "dr5", None, 9, 1, 1, 0, 1, 10.0, 5, None, None),  # no review
               (hour, "cell", 3600, hour, "9q5ct", None, 9, 0, 0, 2, None, None, 4, None, 10)]  # under the floor
    rows_df = at.to_ratings_by_cell_rows(spark.createDataFrame(windows, s.ACTIVITY_WINDOW_SCHEMA), min_users=5)
    assert_frames_equal(rows_df, spark.createDataFrame([(5, "dr", hour, "dr5rs", 5, 3, 11, 11 / 3)],
                                                       s.RATINGS_BY_CELL_SCHEMA))


def test_trending_rows_score_each_interaction_kind(spark: Any) -> None:
    t = datetime(2026, 1, 5, 12)
    windows = [(t, "trend", 10, t, "yoga", None, 4, 2, 1, 3, 1, 19.99, 0, None, None),
               (t, "sales", 1, t, "all", None, 0, 0, 1, 0, 1, 19.99, 0, None, None)]
    rows_df = at.to_trending_rows(spark.createDataFrame(windows, s.ACTIVITY_WINDOW_SCHEMA))
    want = [(10, t, "yoga", "fitness", 4, 2, 1, 3, 4 + 2 * 3 + 10 + 3 * 2)]
    assert_frames_equal(rows_df, spark.createDataFrame(want, s.TRENDING_CATEGORIES_BY_BUCKET_SCHEMA))


@pytest.mark.parametrize(("arrived", "stored"), [
    ("Jane Doe", "Jane D."), ("Jane D.", "Jane D."), ("  jane   mary   o'neil ", "jane O."), ("Jane", "Jane"),
    ("jane.doe@example.com", "jane.doe"), ("Ann-Marie 12345", "Ann-Marie"), ("   ", None), (None, None),
    ("Bartholomew-Maximilian-Fitzgerald Smith", "Bartholomew-Maximilian-F S."), ("Zoë Ångström", "Zoë Å."),
])
def test_buyer_names_are_reduced_to_first_name_and_initial(spark: Any, arrived: str | None,
                                                           stored: str | None) -> None:
    events_df = _raw(spark, [{**GOOD, "user_name": arrived}]).transform(at.parse_activity_records).transform(
        at.with_event_rejection_reason, future_tolerance_s=5.0).transform(at.filter_valid_events).transform(
        at.clean_events)
    assert [row.user_name for row in events_df.select("user_name").collect()] == [stored]
