"""Test doubles for ingestion: a fake clock and a requests transport answering from a handler."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import ProtocolError


class FakeClock:
    """Time stands still until `sleep` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class _CutStream(io.BytesIO):
    """A body that breaks off mid-way, like a connection closed before Content-Length was reached."""

    def stream(self, chunk_size: int, decode_content: bool = True) -> Iterator[bytes]:
        yield self.read(10)
        raise ProtocolError("Connection broken: IncompleteRead(10 bytes read, 90 more expected)")


def reply(
    status: int = 200, body: Any = b"", headers: dict[str, str] | None = None, cut: bool = False
) -> Callable[[requests.PreparedRequest], requests.Response]:
    """A handler answering with `body` (bytes, or JSON-encoded otherwise)."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)

    def handler(request: requests.PreparedRequest) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers or {"Content-Type": "application/json; charset=utf-8"})
        response.raw = _CutStream(raw) if cut else io.BytesIO(raw)
        response.url = request.url or ""
        response.request = request
        return response

    return handler


class MockTransport(BaseAdapter):
    """Answers each request with the next handler (the last one repeats) and records the requests."""

    def __init__(self, *handlers: Callable[[requests.PreparedRequest], requests.Response]) -> None:
        super().__init__()
        self._handlers = list(handlers)
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        handler = self._handlers.pop(0) if len(self._handlers) > 1 else self._handlers[0]
        return handler(request)

    def close(self) -> None:
        pass


def raising(exc: Exception) -> Callable[[requests.PreparedRequest], requests.Response]:
    def handler(request: requests.PreparedRequest) -> requests.Response:
        raise exc

    return handler
