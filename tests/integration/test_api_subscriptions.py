"""Bounded subscriptions over real websockets through a real uvicorn: connection_init deadline,
per-connection and per-server caps, idle timeout, maximum lifetime, shared reads (fan-out) and the
bearer token in connection_init, the byte limit of a message. Bounds are the settings below; reads are counted by
the repository."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conf.settings import Settings
from graphql_api.app import create_app
from graphql_api.auth import create_token
from graphql_api.cli import server_options
from tests.conftest import SECURITY_TEST_KEYSPACE, keyspace_session
from tests.integration.api_client import uvicorn_server

pytestmark = pytest.mark.integration
INIT_S, IDLE_S, LIFETIME_S, PER_CONNECTION, PER_SERVER = 1.0, 1.5, 4.0, 2, 3
EVERY_S = 0.2
TEN_SECOND_BUCKETS = 10  # trending(TEN_SECONDS) sums ten 1 s buckets: one read each
TRENDING = "subscription { trending(window: TEN_SECONDS, everySeconds: 0.2) { slug } }"


@pytest.fixture(scope="module")
def ws_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "keyspace": SECURITY_TEST_KEYSPACE, "api_ws_init_timeout_s": INIT_S, "api_ws_idle_timeout_s": IDLE_S,
        "api_ws_max_lifetime_s": LIFETIME_S, "api_ws_max_subscriptions": PER_CONNECTION,
        "api_ws_max_server_subscriptions": PER_SERVER})


@pytest.fixture(scope="module")
def server(ws_settings: Settings) -> Iterator[tuple[str, Any]]:
    with keyspace_session(ws_settings):
        pass  # the schema exists
    app = create_app(ws_settings)
    with uvicorn_server(app, **server_options(ws_settings)) as url:  # the limits `exstreamly api` serves with
        yield url.replace("http://", "ws://") + "/graphql", app


def open_ws(url: str, payload: dict[str, Any] | None = None) -> ClientConnection:
    ws = connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
    return ws


def subscribe(ws: ClientConnection, op_id: str, query: str = TRENDING) -> None:
    ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))


def closed_code(ws: ClientConnection, within_s: float) -> tuple[int | None, float]:
    """Read until the server closes; (close code, seconds it took)."""
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while time.monotonic() - started < within_s:
            ws.recv(timeout=within_s)
    return closed.value.rcvd.code if closed.value.rcvd else None, time.monotonic() - started


def test_connection_init_must_come_within_seconds(server: tuple[str, Any]) -> None:
    # timed from before the handshake: the server's deadline runs from its accept, which comes first
    started = time.monotonic()
    with connect(server[0], subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        code, _ = closed_code(ws, within_s=10)
    took = time.monotonic() - started
    assert code == 4408 and INIT_S <= took < INIT_S + 2


def test_an_idle_connection_is_closed(server: tuple[str, Any]) -> None:
    with open_ws(server[0]) as ws:
        code, took = closed_code(ws, within_s=10)
    assert code == 1000 and IDLE_S - 0.1 <= took < IDLE_S + 2


def test_a_connection_ends_at_its_maximum_lifetime(server: tuple[str, Any]) -> None:
    with open_ws(server[0]) as ws:
        subscribe(ws, "1")
        code, took = closed_code(ws, within_s=20)
    assert code == 1001 and LIFETIME_S - 1 <= took < LIFETIME_S + 2


def test_a_message_over_the_byte_limit_closes_the_socket(server: tuple[str, Any], ws_settings: Settings) -> None:
    """A websocket message is bounded like an HTTP body: one over the limit closes the socket with 1009."""
    url, _app = server
    ws = open_ws(url)
    padding = " " * ws_settings.api_max_body_bytes  # whitespace: only the byte limit can refuse it
    subscribe(ws, "big", TRENDING + padding)
    code, _took = closed_code(ws, within_s=5)
    assert code == 1009
    small = open_ws(url)  # the server itself is unharmed
    subscribe(small, "ok", TRENDING)
    assert json.loads(small.recv(timeout=5))["type"] == "next"
    small.close()


def test_one_connection_may_run_only_its_cap(server: tuple[str, Any]) -> None:
    with open_ws(server[0]) as ws:
        for op_id in ("1", "2", "3"):
            subscribe(ws, op_id)
        errors = []
        while not errors:
            message = json.loads(ws.recv(timeout=5))
            if message["type"] == "error":
                errors.append(message)
    assert errors[0]["id"] == "3" and errors[0]["payload"][0]["message"] == "Subscription limit reached"


def test_the_server_caps_subscriptions_across_connections(server: tuple[str, Any]) -> None:
    with open_ws(server[0]) as a, open_ws(server[0]) as b:
        subscribe(a, "1")
        subscribe(a, "2")
        assert json.loads(a.recv(timeout=5))["type"] == "next"
        subscribe(b, "1")
        subscribe(b, "2")
        refused = None
        while refused is None:
            message = json.loads(b.recv(timeout=5))
            if message["type"] != "next" or message.get("payload", {}).get("errors"):
                refused = message
    text = json.dumps(refused)
    assert "already serves 3 subscriptions" in text and "TOO_MANY_SUBSCRIPTIONS" in text


def test_subscribers_of_the_same_arguments_share_one_read_per_tick(server: tuple[str, Any]) -> None:
    url, app = server
    repo = app.state.repository
    sockets = [open_ws(url) for _ in range(PER_SERVER)]
    try:
        for ws in sockets:
            subscribe(ws, "1")
        for ws in sockets:
            assert json.loads(ws.recv(timeout=5))["type"] == "next"
        before, started = repo.requests, time.monotonic()
        received = 0
        while time.monotonic() - started < 2.0:
            for ws in sockets:
                received += json.loads(ws.recv(timeout=5))["type"] == "next"
        reads, took = repo.requests - before, time.monotonic() - started
    finally:
        for ws in sockets:
            ws.close()
    ticks = took / EVERY_S + 2  # one loop for the three sockets; a tick may straddle each end
    assert received >= PER_SERVER * 5 and 0 < reads <= TEN_SECOND_BUCKETS * ticks < TEN_SECOND_BUCKETS * PER_SERVER * 8


def test_the_token_travels_in_connection_init(server: tuple[str, Any], ws_settings: Settings) -> None:
    token = create_token(ws_settings, 42)
    with open_ws(server[0], {"Authorization": f"Bearer {token}"}) as ws:
        subscribe(ws, "q", "{ viewer { userId } }")
        answer = json.loads(ws.recv(timeout=5))
    assert answer["payload"]["data"] == {"viewer": {"userId": "42"}}
    with connect(server[0], subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}))
        code, _ = closed_code(ws, within_s=5)
    assert code == 4403


def test_loader_caches_do_not_outlive_an_operation_on_a_socket(server: tuple[str, Any],
                                                               ws_settings: Settings) -> None:
    query = '{ deal(id: "9100001") { id title } }'
    with open_ws(server[0]) as ws, keyspace_session(ws_settings) as session:
        session.execute(f"DELETE FROM {SECURITY_TEST_KEYSPACE}.deals_by_id WHERE deal_id = 9100001")
        subscribe(ws, "a", query)
        assert json.loads(ws.recv(timeout=5))["payload"]["data"] == {"deal": None}
        ws.recv(timeout=5)  # complete
        session.execute(f"INSERT INTO {SECURITY_TEST_KEYSPACE}.deals_by_id (deal_id, title, price, value, "
                        "discount_pct) VALUES (9100001, 'Fresh', 5.0, 10.0, 0.5)")
        subscribe(ws, "b", query)  # same socket, same context: a kept loader cache would answer null
        assert json.loads(ws.recv(timeout=5))["payload"]["data"] == {"deal": {"id": "9100001", "title": "Fresh"}}
