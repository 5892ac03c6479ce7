"""Tokens, the cost estimate, shared feeds, the TTL cache, the body limit and key stripping, offline."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from conf.settings import load_settings
from graphql_api.auth import Role, create_token, viewer_of
from graphql_api.body_limit import BodyLimit
from graphql_api.cost import estimate_cost
from graphql_api.errors import Unauthenticated
from graphql_api.feeds import FeedHub
from graphql_api.schema import build_schema
from graphql_api.search import stream_reads
from graphql_api.ttl_cache import TtlCache
from ingest.kafka_io import deal_record

SETTINGS = load_settings()
SCHEMA = build_schema(SETTINGS)._schema


def test_a_token_names_its_user_and_role_until_it_expires() -> None:
    token = create_token(SETTINGS, 12, Role.OPERATOR, ttl_s=60, now=1_000_000.0)
    with pytest.raises(Unauthenticated, match="token expired"):
        viewer_of(SETTINGS, f"Bearer {token}")
    fresh = viewer_of(SETTINGS, f"Bearer {create_token(SETTINGS, 12, Role.OPERATOR)}")
    assert fresh is not None and (fresh.user_id, fresh.is_operator) == (12, True)
    assert viewer_of(SETTINGS, None) is None


def test_token_create_prints_a_token_the_api_accepts_and_refuses_a_bad_user() -> None:
    from click.testing import CliRunner

    from graphql_api.cli import token

    done = CliRunner().invoke(token, ["create", "--user", "42", "--role", "operator"])
    assert done.exit_code == 0, done.output
    viewer = viewer_of(SETTINGS, f"Bearer {done.output.strip()}")
    assert viewer is not None and (viewer.user_id, viewer.is_operator) == (42, True)
    refused = CliRunner().invoke(token, ["create", "--user", "0"])
    assert refused.exit_code == 2 and "--user" in refused.output


def test_doubling_pages_reach_the_scan_in_few_reads() -> None:
    # by hand: 2 + 4 + ... + 1024 = 2046 >= 2000 after 10 reads, plus the read that finds the end
    assert stream_reads(2, 2000) == 11
    assert stream_reads(2000, 2000) == 2


@pytest.mark.parametrize(("document", "cost"), [
    ('{ deal(id: "1") { id priceHistory { price } } }', 2),
    ('{ a: deal(id: "1") { id } b: deal(id: "2") { id } }', 2),
    # pages of 11, 22, ..., 1408 rows pass 2,000 after 8 reads (+1 for the end), and 10 deals_by_id reads
    ('{ deals(filter: {category: "gym"}, first: 10) { nodes { id description } } }', 9 + 10),
    # +-0.45 degrees: 6 cell rows of 0.176 degrees x 4 cell columns of 0.352 degrees
    ('{ deals(filter: {near: {lat: 0, lon: 0, radiusKm: 50}}, sort: NEAREST) { nodes { id } } }', 24),
    ('{ categories { dealCount children { dealCount } } }', 7 + 7 * 20),
    ('query($n: Int!) { deals(filter: {category: "gym"}, first: $n) { nodes { id } } }', 0),  # $n missing
])
def test_the_estimate_adds_reads_times_objects(document: str, cost: int) -> None:
    assert estimate_cost(SCHEMA, parse(document), None, {}, SETTINGS) == cost


def test_aliases_multiply_the_estimate() -> None:
    one = '{ a0: deals(filter: {text: "x"}) { nodes { id } } }'
    fifteen = "{ " + " ".join(f'a{i}: deals(filter: {{text: "x"}}) {{ nodes {{ id }} }}' for i in range(15)) + " }"
    assert estimate_cost(SCHEMA, parse(fifteen), None, {}, SETTINGS) == 15 * estimate_cost(
        SCHEMA, parse(one), None, {}, SETTINGS)


def test_one_feed_serves_every_subscriber_of_the_same_arguments() -> None:
    async def run() -> tuple[int, list[list[int]]]:
        hub, loads = FeedHub(max_subscriptions=10), 0

        async def load() -> int:
            nonlocal loads
            loads += 1
            return loads

        async def take(n: int) -> list[int]:
            got = []
            async for value in hub.updates("k", load, 0.01):
                got.append(value)
                if len(got) == n:
                    break
            return got

        results = await asyncio.gather(*(take(5) for _ in range(4)))
        assert hub.feeds == 0 and hub.active == 0  # the loop stops with its last subscriber
        return loads, results

    loads, results = asyncio.run(run())
    assert loads <= 7 and all(len(r) == 5 for r in results)  # not 4 x 5 loads


def test_a_subscriber_joining_a_running_feed_gets_its_latest_value_at_once() -> None:
    async def run() -> tuple[list[int], float]:
        hub, loads = FeedHub(max_subscriptions=10), 0

        async def load() -> int:
            nonlocal loads
            loads += 1
            return loads

        first = hub.updates("k", load, 60.0)  # a tick a minute: the next value is far away
        seen = [await anext(first)]
        started = asyncio.get_running_loop().time()
        second = hub.updates("k", load, 60.0)
        seen.append(await asyncio.wait_for(anext(second), timeout=5))
        waited = asyncio.get_running_loop().time() - started
        await first.aclose()
        await second.aclose()
        return seen, waited

    seen, waited = asyncio.run(run())
    assert seen == [1, 1] and waited < 5  # the first load's value, shared, without a second read


def test_the_ttl_cache_fetches_once_per_ttl_and_not_failures() -> None:
    now = [0.0]
    calls: list[str] = []

    async def fetch(key: str) -> int:
        calls.append(key)
        if key == "bad" and calls.count("bad") == 1:
            raise RuntimeError("down")
        return len(calls)

    async def run() -> None:
        cache: TtlCache[str, int] = TtlCache(fetch, 30.0, clock=lambda: now[0])
        assert await asyncio.gather(cache.get("a"), cache.get("a")) == [1, 1]
        now[0] = 31.0
        assert await cache.get("a") == 2
        with pytest.raises(RuntimeError):
            await cache.get("bad")
        assert await cache.get("bad") == 4

    asyncio.run(run())


def test_a_body_over_the_limit_is_413_and_one_under_passes() -> None:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(len(await request.body())))

    app = BodyLimit(Starlette(routes=[Route("/", echo, methods=["POST"])]), max_bytes=1024)
    with TestClient(app) as client:
        assert client.post("/", content=b"x" * 1024).text == "1024"
        assert client.post("/", content=b"x" * 1025).status_code == 413

        def chunks() -> Any:
            yield b"x" * 1000
            yield b"x" * 1000

        assert client.post("/", content=chunks()).status_code == 413  # no Content-Length: counted


def test_the_published_deal_carries_no_key() -> None:
    deal = {"id": 5, "url": "http://api/v2/deals/5/click?api_key=s3cret", "title": "Pizza",
            "image_url": "http://api/v2/deals/5/image?w=1&api_key=s3cret",
            "merchant": {"url": "http://shop.example/?ref=s3cret;x=1"}}
    key, value = deal_record(deal, secret="s3cret")
    assert key == b"5" and b"s3cret" not in value
    assert value == (b'{"id":5,"url":"http://api/v2/deals/5/click","title":"Pizza",'
                     b'"image_url":"http://api/v2/deals/5/image?w=1","merchant":{"url":"http://shop.example/?x=1"}}')
