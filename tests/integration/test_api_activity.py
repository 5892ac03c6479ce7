"""The live activity fields over tables written by the activity sinks from a known log: each answer
equals what the plain-Python oracle says about the same log at the same moment."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.app import create_app
from pipeline.activity_sink import ActivityEventsSink, ActivityWindowsSink, activity_windows
from pipeline.schemas import RAW_RECORD_SCHEMA
from tests.activity_log import event_log, expected_cells, expected_merchant_sales, expected_sales, expected_trending
from tests.conftest import ACTIVITY_API_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration.activity_fixtures import raw_rows
from tests.integration.api_client import data

pytestmark = pytest.mark.integration
KEYSPACE = ACTIVITY_API_TEST_KEYSPACE
AT = datetime(2026, 1, 5, 11, 0, 30)
AT_ARG = "2026-01-05T11:00:30+00:00"
LOG = event_log(450, seed=6)


@pytest.fixture(scope="module")
def client(spark: Any, settings: Settings) -> Iterator[TestClient]:
    # the log is of a fixed day in the past: widen the public window (24 h by default) to reach it
    act = settings.model_copy(update={"keyspace": KEYSPACE, "activity_min_users_per_cell": 5,
                                      "api_public_window_s": 3650 * 86_400})
    with keyspace_session(act) as session:
        truncate_keyspace(session, KEYSPACE)
    raw_df = spark.createDataFrame(raw_rows(LOG), RAW_RECORD_SCHEMA)
    ActivityEventsSink(act)(raw_df)
    ActivityWindowsSink(act)(activity_windows(raw_df, act))
    with TestClient(create_app(act)) as test_client:
        yield test_client


def test_trending_sums_the_last_minute_of_buckets(client: TestClient) -> None:
    newest = AT.replace(second=AT.second - AT.second % 10)
    starts = {newest - timedelta(seconds=10 * i) for i in range(6)}
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for size, start, slug, _parent, views, _c, _p, _r, score in expected_trending(LOG, 30.0):
        if size == 10 and start in starts:
            sums[slug][0] += score
            sums[slug][1] += views
    want = [{"slug": k, "score": v[0], "views": v[1]} for k, v in sorted(sums.items(), key=lambda i: (-i[1][0], i[0]))]
    got = data(client, f'{{ trending(window: ONE_MINUTE, first: 100, at: "{AT_ARG}") {{ slug score views }} }}')
    assert got["trending"] == want


def test_sales_timeline_returns_every_second_oldest_first(client: TestClient) -> None:
    by_second = {row[1]: row for row in expected_sales(LOG, 30.0)}
    got = data(client, f'{{ salesTimeline(last: 90, at: "{AT_ARG}") {{ at purchases units revenue }} }}')
    seconds = [AT - timedelta(seconds=i) for i in range(89, -1, -1)]
    want = [{"at": s.isoformat() + "+00:00", "purchases": by_second[s][2] if s in by_second else 0,
             "units": by_second[s][3] if s in by_second else 0,
             "revenue": by_second[s][4] if s in by_second else 0.0} for s in seconds]
    assert got["salesTimeline"] == want


def test_purchase_feed_is_newest_first(client: TestClient) -> None:
    purchases = {(e.occurred, e.payload["event_id"]) for e in LOG
                 if isinstance(e.payload, dict) and e.payload["event_type"] == "purchase"
                 and e.occurred < AT.replace(second=0) + timedelta(minutes=1)}
    # minute partitions newest first; inside one, clustering order (occurred_at DESC, event_id ASC)
    newest = sorted(purchases, key=lambda p: (-p[0].replace(second=0, microsecond=0).timestamp(),
                                              -p[0].timestamp(), p[1]))
    got = data(client, f'{{ purchaseFeed(first: 12, at: "{AT_ARG}") {{ id }} }}')
    assert [p["id"] for p in got["purchaseFeed"]] == [p[1] for p in newest[:12]]


def test_activity_map_serves_only_cells_over_the_floor(client: TestClient) -> None:
    query = f'''{{ activityMap(bbox: {{south: 20, west: -130, north: 50, east: -60}}, precision: 4, at: "{AT_ARG}")
                 {{ minUsers cells {{ geohash users events purchases }} }} }}'''
    got = data(client, query)["activityMap"]
    hour = datetime(2026, 1, 5, 11)
    want = {(c[3], c[4], c[5], c[6]) for c in expected_cells(LOG, 30.0, 5) if c[0] == 4 and c[2] == hour}
    assert got["minUsers"] == 5 and want
    assert {(c["geohash"], c["users"], c["events"], c["purchases"]) for c in got["cells"]} == want


def test_top_sellers_rank_merchants_by_live_units(client: TestClient) -> None:
    units: dict[int, int] = defaultdict(int)
    for slug, _day, merchant, _hour, _name, _n, sold, _rev in expected_merchant_sales(LOG, 30.0):
        if slug == "dining-nightlife":
            units[merchant] += sold
    got = data(client, f'{{ topSellers(category: "dining-nightlife", first: 10, at: "{AT_ARG}") {{ id units }} }}')
    assert {(int(m["id"]), m["units"]) for m in got["topSellers"]} == set(units.items())
    assert [m["units"] for m in got["topSellers"]] == sorted(units.values(), reverse=True)


def test_trending_is_pushed_over_graphql_transport_ws(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe",
                      "payload": {"query": "subscription { trending(window: ONE_HOUR, everySeconds: 0.2) { slug } }"}})
        first, second = ws.receive_json(), ws.receive_json()
        assert first["type"] == second["type"] == "next" and "trending" in first["payload"]["data"]
        ws.send_json({"id": "1", "type": "complete"})
