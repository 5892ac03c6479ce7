"""Interests and alerts through the API against the real Cassandra: the mutations (validated, bounded,
per user), `viewer { interests alerts }` and `subscription { dealAlerts }` over real websockets — a
subscriber gets its own alerts only, a digest as one notice, resumes after the last one it saw, and gets
an alert written a minute after its time.
Alerts are seeded with plain CQL here; the stream that writes them has tests of its own."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient
from websockets.sync.client import ClientConnection, connect

from conf.settings import Settings
from graphql_api.app import create_app
from graphql_api.auth import create_token
from tests import expected
from tests.conftest import ALERTS_API_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration.api_client import uvicorn_server

pytestmark = pytest.mark.integration
BOUND = 3
SAVE = "mutation($input: InterestInput!) { saveInterest(input: $input) { id category keywords delivery } }"
LIST = "{ viewer { interests { id category maxPrice near { radiusKm } quietHours { startHour endHour } } } }"
SUBSCRIBE = "subscription($after: String) { dealAlerts(after: $after) { cursor digestId alerts { id dealId } } }"


@pytest.fixture(scope="module")
def api_settings(settings: Settings) -> Iterator[Settings]:
    tuned = settings.model_copy(update={"keyspace": ALERTS_API_TEST_KEYSPACE,
                                        "alert_max_interests_per_user": BOUND, "alert_poll_s": 0.1})
    with keyspace_session(tuned) as session:
        truncate_keyspace(session, tuned.keyspace)
    yield tuned


@pytest.fixture(scope="module")
def session(api_settings: Settings) -> Iterator[Any]:
    with keyspace_session(api_settings) as cql:
        yield cql


def call(client: TestClient, settings: Settings, user: int | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = {} if user is None else {"Authorization": f"Bearer {create_token(settings, user)}"}
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()


def error(body: dict[str, Any]) -> tuple[str, str]:
    first = body["errors"][0]
    return first["extensions"]["code"], first["message"]


def test_interests_are_validated_bounded_listed_and_deleted_per_user(api_settings: Settings, session: Any) -> None:
    with TestClient(create_app(api_settings)) as client:
        def version() -> Any:
            return session.execute("SELECT version FROM interest_index_version WHERE scope = 'all'").one()

        before = version()
        near = {"category": "restaurants", "near": {"lat": 43.04, "lon": -87.91, "radiusKm": 25}, "maxPrice": 40.0,
                "quietHours": {"startHour": 22, "endHour": 7}}
        saved = call(client, api_settings, 7, SAVE, input=near)["data"]["saveInterest"]
        assert version() != before
        other = call(client, api_settings, 7, SAVE, input={"category": "spa", "keywords": [" Massage ", "massage"],
                                                           "delivery": "DAILY"})["data"]["saveInterest"]
        assert other["keywords"] == ["massage"] and other["delivery"] == "DAILY"
        listed = call(client, api_settings, 7, LIST)["data"]["viewer"]["interests"]
        assert {i["id"] for i in listed} == {saved["id"], other["id"]}
        assert call(client, api_settings, 8, LIST)["data"]["viewer"]["interests"] == []
        keys = {(r.index_key, r.interest_id)
                for r in session.execute("SELECT index_key, interest_id FROM interests_by_key")}
        assert ("g:" + expected.geohash(43.04, -87.91, 4), saved["id"]) in keys and ("c:spa", other["id"]) in keys
        for bad, field in (({"category": "nope"}, "input.category"), ({"category": "spa", "minDiscount": 1.5},
                           "input.minDiscount"), ({"maxPrice": 3.0}, "input"),
                           ({"near": {"lat": 43.0, "lon": -87.9, "radiusKm": 0}}, "input.near.radiusKm"),
                           ({"category": "spa", "quietHours": {"startHour": 25, "endHour": 1}},
                            "input.quietHours.startHour"),
                           ({"category": "spa", "keywords": ["a", "b", "c", "d", "e", "f"]}, "input.keywords")):
            code, message = error(call(client, api_settings, 7, SAVE, input=bad))
            assert code == "BAD_USER_INPUT" and message.startswith(field), message
        assert error(call(client, api_settings, None, SAVE, input={"category": "spa"}))[0] == "UNAUTHENTICATED"
        assert "errors" not in call(client, api_settings, 7, SAVE, input={"category": "gym"})
        code, message = error(call(client, api_settings, 7, SAVE, input={"category": "golf"}))
        assert code == "BAD_USER_INPUT" and f"at most {BOUND} interests" in message
        delete = "mutation($id: ID!) { deleteInterest(id: $id) }"
        assert call(client, api_settings, 8, delete, id=saved["id"])["data"]["deleteInterest"] is False
        assert call(client, api_settings, 7, delete, id=saved["id"])["data"]["deleteInterest"] is True
        assert call(client, api_settings, 7, delete, id=saved["id"])["data"]["deleteInterest"] is False
    left = {r.interest_id for r in session.execute("SELECT interest_id FROM interests_by_key")}
    assert saved["id"] not in left and other["id"] in left


def tombstone_cells_read(session: Any, query: str) -> list[int]:
    """The tombstone cells each replica met reading `query`, from Cassandra's own trace of the read."""
    trace = session.execute(query, trace=True).get_query_trace(max_wait_sec=10)
    found = [re.search(r"live rows and (\d+) tombstone cells", event.description) for event in trace.events]
    return [int(match.group(1)) for match in found if match]


def test_a_new_interest_writes_no_tombstone_and_an_edit_clears_what_it_drops(api_settings: Settings,
                                                                              session: Any) -> None:
    by_key = "SELECT user_id, max_price, near_lat, keywords FROM interests_by_key WHERE index_key = 'c:bowling'"
    with TestClient(create_app(api_settings)) as client:
        saved = call(client, api_settings, 9, SAVE, input={"category": "bowling", "maxPrice": 30.0})
        interest_id = saved["data"]["saveInterest"]["id"]
        # every absent criterion (near, discounts, keywords, quiet hours) left unwritten, not nulled
        cells = tombstone_cells_read(session, by_key)
        assert cells and not any(cells), cells
        assert [tuple(row) for row in session.execute(by_key)] == [(9, 30.0, None, None)]
        edited = call(client, api_settings, 9, SAVE, input={"id": interest_id, "category": "bowling"})
        assert "errors" not in edited, edited
        listed = call(client, api_settings, 9, LIST)["data"]["viewer"]["interests"]
    assert [(i["id"], i["maxPrice"]) for i in listed] == [(interest_id, None)]
    assert [tuple(row) for row in session.execute(by_key)] == [(9, None, None, None)]


def alert_row(user: int, alert_id: str, deliver_at: datetime, digest: str | None = None) -> tuple[Any, ...]:
    return (user, deliver_at.replace(tzinfo=None), alert_id, "i" + str(user), 100 + user, deliver_at, deliver_at,
            "NEW_MATCH", "in spa", "INSTANT" if digest is None else "DAILY_DIGEST", digest, "Spa Day", 20.0)


def seed_alerts(session: Any, rows: list[tuple[Any, ...]]) -> None:
    statement = session.prepare("INSERT INTO alerts_by_user (user_id, deliver_at, alert_id, interest_id, deal_id, "
                                "deal_updated_at, alert_at, kind, reason, delivery, digest_id, title, price) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    for row in rows:
        session.execute(statement, row)


def open_ws(url: str, settings: Settings, user: int, after: str | None = None) -> ClientConnection:
    ws = connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    token = create_token(settings, user)
    ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
    payload = {"query": SUBSCRIBE, "variables": {"after": after}}
    ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    return ws


def notices(ws: ClientConnection, within_s: float) -> list[dict[str, Any]]:
    found, deadline = [], time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            message = json.loads(ws.recv(timeout=max(0.05, deadline - time.monotonic())))
        except TimeoutError:
            break
        assert message["type"] == "next" and "errors" not in message["payload"], message
        found.append(message["payload"]["data"]["dealAlerts"])
    return found


def test_a_subscriber_gets_its_own_alerts_once_digests_whole_and_resumes(api_settings: Settings,
                                                                         session: Any) -> None:
    truncate_keyspace(session, api_settings.keyspace)
    with uvicorn_server(create_app(api_settings)) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        mine, theirs = open_ws(url, api_settings, 1), open_ws(url, api_settings, 2)
        time.sleep(0.5)
        now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        seed_alerts(session, [alert_row(1, "a1", now), alert_row(1, "a2", now + timedelta(seconds=1)),
                              alert_row(1, "d1", now + timedelta(seconds=2), "dig"),
                              alert_row(1, "d2", now + timedelta(seconds=2), "dig"),
                              alert_row(1, "a3", now + timedelta(seconds=3)), alert_row(2, "b1", now)])
        got = notices(mine, 6.0)
        assert [[a["id"] for a in n["alerts"]] for n in got] == [["a1"], ["a2"], ["d1", "d2"], ["a3"]]
        assert got[2]["digestId"] == "dig" and got[0]["digestId"] is None
        assert [[a["id"] for a in n["alerts"]] for n in notices(theirs, 1.0)] == [["b1"]]
        mine.close()
        resumed = open_ws(url, api_settings, 1, after=got[1]["cursor"])
        assert [[a["id"] for a in n["alerts"]] for n in notices(resumed, 2.0)] == [["d1", "d2"], ["a3"]]
        resumed.close()
        theirs.close()
    with TestClient(create_app(api_settings)) as client:
        page = call(client, api_settings, 1, "{ viewer { alerts(first: 3) { nodes { id cursor } endCursor "
                                             "hasNextPage } } }")["data"]["viewer"]["alerts"]
        assert [n["id"] for n in page["nodes"]] == ["a3", "d1", "d2"] and page["hasNextPage"]
        rest = call(client, api_settings, 1, "query($after: String) { viewer { alerts(first: 3, after: $after) { "
                                             "nodes { id } hasNextPage } } }", after=page["endCursor"])
        assert [n["id"] for n in rest["data"]["viewer"]["alerts"]["nodes"]] == ["a2", "a1"]


def test_an_alert_written_a_minute_after_its_time_is_still_pushed(api_settings: Settings, session: Any) -> None:
    """An alert is timed by its deal's Kafka record and written after the pipeline's lag (a minute on a busy
    two-core machine): a subscriber still gets it, live."""
    truncate_keyspace(session, api_settings.keyspace)
    now = datetime.now(UTC).replace(microsecond=0)
    seed_alerts(session, [alert_row(3, "seen", now - timedelta(seconds=90))])
    with TestClient(create_app(api_settings)) as client:
        cursor = call(client, api_settings, 3, "{ viewer { alerts(first: 1) { nodes { cursor } } } }"
                      )["data"]["viewer"]["alerts"]["nodes"][0]["cursor"]
    with uvicorn_server(create_app(api_settings)) as base:
        ws = open_ws(base.replace("http://", "ws://") + "/graphql", api_settings, 3, after=cursor)
        time.sleep(0.5)
        seed_alerts(session, [alert_row(3, "late", now - timedelta(seconds=60))])  # written 60 s after its time
        assert [[a["id"] for a in n["alerts"]] for n in notices(ws, 3.0)] == [["late"]]
        ws.close()
