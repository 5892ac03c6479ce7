"""Helpers for the API integration tests: a GraphQL client over Starlette's TestClient or httpx,
and a real uvicorn server on a free port."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gql(client: Any, query: str, variables: dict[str, Any] | None = None, *, status: int = 200) -> dict[str, Any]:
    """POST a GraphQL request; assert the HTTP status; return the decoded body."""
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == status, response.text
    return response.json()


def data(client: Any, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of a request that must succeed without errors."""
    body = gql(client, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


@contextmanager
def uvicorn_server(app: Starlette, **options: Any) -> Iterator[str]:
    """Serve `app` with a real uvicorn in a thread on a free port (extra uvicorn `options`); yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", **options))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def http_client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
