"""While Cassandra cannot be reached the API stays up, answers STORE_UNAVAILABLE and a 503 health,
and it recovers by itself when Cassandra is back. The outage is a TCP proxy in front of the real
node being closed (the shared Cassandra itself is never stopped)."""
from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from graphql_api.app import create_app
from tests.integration.api_client import free_port, gql

pytestmark = pytest.mark.integration
QUERY = '{ deal(id: "1") { id } }'


class TcpProxy:
    """Forwards 127.0.0.1:port to the upstream; `close()` drops the listener and every connection."""

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port, self.upstream = port, upstream
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        for sock in [self._listener, *self._sockets]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already disconnected
                sock.close()
        self._listener, self._sockets = None, []

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass  # the other side went away: the proxy is closing
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already shut


def wait_healthy(client: TestClient, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the API did not recover"
        time.sleep(0.25)


def assert_unavailable(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json() == {"status": "down"}
    error = gql(client, QUERY)["errors"][0]
    assert error["extensions"]["code"] == "STORE_UNAVAILABLE"
    assert error["message"].startswith("the deal store (Cassandra) is unavailable; retry shortly")


def test_api_survives_cassandra_outages_and_recovers(api_settings: Any, api_cassandra: Any) -> None:
    proxy = TcpProxy(free_port(), (api_settings.cassandra_host, api_settings.cassandra_port))
    settings = api_settings.model_copy(update={"cassandra_port": proxy.port, "api_cql_timeout_s": 1.0})
    try:
        with TestClient(create_app(settings)) as client:
            assert_unavailable(client)  # down at start-up: the app still serves
            proxy.open()
            wait_healthy(client)
            assert gql(client, QUERY) == {"data": {"deal": None}}
            proxy.close()  # down while running
            assert_unavailable(client)
            proxy.open()
            wait_healthy(client)
            assert gql(client, QUERY) == {"data": {"deal": None}}
    finally:
        proxy.close()
