"""A short-lived cache of whole answers to anonymous queries: a hot search costs one execution per
`ttl_s`, however many shoppers send it at once.

Why: graphql-core resolves every field of every node in Python (about 15 µs a field on this
machine's kind), and a 50-deal search is some 500 fields, so under concurrency the API spends its
one event loop re-resolving identical answers. An identical anonymous query (the same request
body) within `ttl_s` gets the same bytes: the answer is at most `ttl_s` older than the tables
(EXS_API_RESPONSE_CACHE_S, default 1 s; 0 turns the cache off), on top of the pipeline's latency.

Only these are stored: POST /graphql without an Authorization header (per-user data never enters
the cache), a `query` operation, status 200, and an answer without errors. Concurrent misses of one
key wait for a single execution (single flight). A request with `Cache-Control: no-cache` always
executes (and refreshes the entry), as HTTP caches do.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ENTRIES = 512


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored_at: float


class ResponseCache:
    """ASGI middleware in front of the GraphQL route (inside CORS, so CORS headers stay per request)."""

    def __init__(self, app: ASGIApp, ttl_s: float, path: str = "/graphql") -> None:
        self.app, self.ttl_s, self.path = app, ttl_s, path
        self._answers: OrderedDict[bytes, Answer] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Future[Answer | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._may_cache(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        key = hashlib.blake2b(body, digest_size=16).digest()
        fresh = self._fresh(key) if not _no_cache(scope) else None
        if fresh is None and key in self._in_flight:
            fresh = await asyncio.shield(self._in_flight[key])
        if fresh is not None:
            await _replay(fresh, send)
            return
        await self._execute(scope, _replaying(body, receive), send, key, body)

    def _may_cache(self, scope: Scope) -> bool:
        if self.ttl_s <= 0 or scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            return False
        return not any(name == b"authorization" for name, _ in scope["headers"])

    def _fresh(self, key: bytes) -> Answer | None:
        answer = self._answers.get(key)
        if answer is None or time.monotonic() - answer.stored_at > self.ttl_s:
            return None
        return answer

    async def _execute(self, scope: Scope, receive: Receive, send: Send, key: bytes, body: bytes) -> None:
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)
            await send(message)

        answer = None
        try:
            await self.app(scope, receive, capture)
            answer = _storable(captured, body)
            if answer is not None:
                self._store(key, answer)
        finally:
            if self._in_flight.get(key) is future:
                del self._in_flight[key]
            future.set_result(answer)  # waiters with None execute the request themselves

    def _store(self, key: bytes, answer: Answer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > MAX_ENTRIES:
            self._answers.popitem(last=False)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The request body once more for the app; after it, the real channel (e.g. a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _no_cache(scope: Scope) -> bool:
    return any(name == b"cache-control" and b"no-cache" in value for name, value in scope["headers"])


def _storable(messages: list[Message], body: bytes) -> Answer | None:
    """The answer, when it is a successful, error-free answer to a query operation."""
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    if start is None or start["status"] != 200:
        return None
    answer_body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    try:
        answer, request = orjson.loads(answer_body), orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(answer, dict) or answer.get("errors") or not isinstance(request, dict):
        return None
    if not _is_query(request.get("query"), request.get("operationName")):
        return None
    return Answer(start["status"], list(start.get("headers", [])), answer_body, time.monotonic())


def _is_query(document: object, operation_name: object) -> bool:
    if not isinstance(document, str) or not (operation_name is None or isinstance(operation_name, str)):
        return False
    return _names_a_query(document, operation_name)


@lru_cache(maxsize=MAX_ENTRIES)
def _names_a_query(document: str, operation_name: str | None) -> bool:
    """Whether the operation chosen is a query. Cached: clients send the same few documents, and each
    parse leaves a linked list of tokens that only the cycle collector frees (its pauses were the API's
    tail under load, see graphql_api/app.py)."""
    try:
        parsed = parse(document, no_location=True)
    except GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    return len(chosen) == 1 and chosen[0].operation == OperationType.QUERY


async def _replay(answer: Answer, send: Send) -> None:
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})
