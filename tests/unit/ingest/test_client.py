"""The deals client against bodies shaped like sqoot_api.md §6 and every fault mode, HTTP mocked at the
transport (a requests adapter), time faked: no network, no real sleeping."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests

from conf.settings import Settings, load_settings
from ingest.api_model import DealsQuery
from ingest.client import DealsClient
from ingest.errors import (
    ApiTimeout,
    ApiUnreachable,
    AuthError,
    BadPayload,
    DealsApiError,
    NotFound,
    RateLimited,
    ServerError,
    TruncatedBody,
)
from ingest.ratelimit import LeakyBucket
from tests.unit.ingest.bodies import CATEGORIES_BODY, EMPTY_BODY, LOCAL_DEAL, ONLINE_DEAL, deals_body
from tests.unit.ingest.fakes import FakeClock, MockTransport, raising, reply

KEY = "k3y+/ab"
DATE = {"Content-Type": "application/json", "Date": "Mon, 01 Feb 2016 00:05:00 GMT"}


def make(*handlers, auth: str = "query", attempts: int = 4) -> tuple[DealsClient, MockTransport, FakeClock]:  # type: ignore[no-untyped-def]
    settings: Settings = load_settings(
        deals_api_url="http://deals.test/v2/",
        deals_api_key=KEY,
        deals_api_auth=auth,
        deals_api_max_attempts=attempts,
        deals_api_backoff_s=0.5,
        deals_api_backoff_max_s=8.0,
    )
    transport = MockTransport(*handlers)
    clock = FakeClock()
    limiter = LeakyBucket(1000.0, clock=clock, sleep=clock.sleep)
    client = DealsClient(settings, transport=transport, limiter=limiter, sleep=clock.sleep, rng=random.Random(1))
    return client, transport, clock


def params_of(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url or "").query)


# -- bodies ------------------------------------------------------------------------------------------------


def test_a_deals_page_is_unwrapped_and_its_deals_kept_exactly_as_sent() -> None:
    client, _, _ = make(reply(body=deals_body([LOCAL_DEAL, ONLINE_DEAL]), headers=DATE))
    page = client.deals(DealsQuery(per_page=2, location="Milwaukee,WI"))
    assert (page.total, page.page, page.per_page, page.invalid_items) == (1843, 1, 2, 0)
    assert page.deals == [LOCAL_DEAL, ONLINE_DEAL]
    assert page.query["location"]["locality"] == "Milwaukee"
    assert page.server_time == datetime(2016, 2, 1, 0, 5, tzinfo=UTC)


def test_an_empty_result_is_a_page_with_no_deals() -> None:
    client, _, _ = make(reply(body=EMPTY_BODY))
    page = client.deals(DealsQuery(page=99))
    assert (page.total, page.deals) == (0, [])


def test_categories_are_unwrapped_with_null_parents() -> None:
    client, _, _ = make(reply(body=CATEGORIES_BODY))
    categories = client.categories()
    assert [c.slug for c in categories][:3] == ["activities-events", "adult", "audio"]
    assert categories[0].parent_slug is None and categories[1].parent_slug == "product"


def test_a_single_deal_is_unwrapped() -> None:
    client, transport, _ = make(reply(body={"deal": LOCAL_DEAL}))
    assert client.deal(3987001) == LOCAL_DEAL
    assert urlsplit(transport.requests[0].url or "").path == "/v2/deals/3987001"


def test_elements_without_a_deal_id_are_counted_not_fatal() -> None:
    body = deals_body([LOCAL_DEAL]) | {"deals": [{"deal": LOCAL_DEAL}, {"deal": {"title": "no id"}}, "junk"]}
    client, _, _ = make(reply(body=body))
    page = client.deals(DealsQuery())
    assert page.deals == [LOCAL_DEAL] and page.invalid_items == 2


# -- request shape -----------------------------------------------------------------------------------------


def test_every_deals_parameter_is_sent_in_the_apis_spelling() -> None:
    client, transport, _ = make(reply(body=EMPTY_BODY))
    client.deals(
        DealsQuery(
            page=3,
            per_page=100,
            category_slugs=("home_goods", "restaurants"),
            provider_slugs=("groupon",),
            updated_after=datetime(2016, 2, 6, 17, 23, 12, tzinfo=UTC),
            query="sushi bar",
            location="Milwaukee,WI",
            radius=25,
            online=False,
            order="price_desc",
        )
    )
    url = transport.requests[0].url or ""
    assert "category_slugs=home_goods,restaurants" in url and "query=sushi%20bar" in url
    assert "updated_after=2016-02-06T17:23:12Z" in url
    assert params_of(transport.requests[0]) == {
        "api_key": [KEY],
        "query": ["sushi bar"],
        "location": ["Milwaukee,WI"],
        "radius": ["25"],
        "online": ["false"],
        "category_slugs": ["home_goods,restaurants"],
        "provider_slugs": ["groupon"],
        "updated_after": ["2016-02-06T17:23:12Z"],
        "order": ["price_desc"],
        "page": ["3"],
        "per_page": ["100"],
    }


def test_the_key_can_go_in_the_authorization_header_instead() -> None:
    client, transport, _ = make(reply(body=EMPTY_BODY), auth="header")
    client.deals(DealsQuery())
    assert transport.requests[0].headers["Authorization"] == f"api_key {KEY}"
    assert "api_key" not in params_of(transport.requests[0])


@pytest.mark.parametrize("bad", [{"per_page": 101}, {"per_page": 0}, {"page": 0}])
def test_out_of_range_paging_is_refused_before_any_request(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        DealsQuery(**bad)


def test_the_connection_pool_is_sized_to_the_threads() -> None:
    settings = load_settings(deals_api_url="http://deals.test/v2")
    client = DealsClient(settings, pool_size=24)
    adapter = client._session.get_adapter("http://deals.test/v2")
    assert adapter._pool_maxsize == 24  # type: ignore[attr-defined]


# -- faults ------------------------------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_the_server_asked_for() -> None:
    client, transport, clock = make(reply(429, {"error": "slow down"}, {"Retry-After": "3"}), reply(body=EMPTY_BODY))
    assert client.deals(DealsQuery()).total == 0
    assert len(transport.requests) == 2
    assert 3.0 <= sum(clock.sleeps) <= 3.5  # Retry-After plus at most one base interval of spread


def test_retry_after_as_an_http_date_is_honoured() -> None:
    headers = {"Retry-After": "Mon, 01 Feb 2016 00:00:05 GMT", "Date": "Mon, 01 Feb 2016 00:00:01 GMT"}
    client, _, clock = make(reply(429, b"", headers), reply(body=EMPTY_BODY))
    client.deals(DealsQuery())
    assert 4.0 <= sum(clock.sleeps) <= 4.5


def test_a_503_html_page_is_retried_with_full_jitter_backoff() -> None:
    html = b"<html><body><h1>Service Unavailable</h1></body></html>"
    client, transport, clock = make(
        reply(503, html, {"Content-Type": "text/html"}),
        reply(503, html, {"Content-Type": "text/html"}),
        reply(body=EMPTY_BODY),
    )
    client.deals(DealsQuery())
    assert len(transport.requests) == 3
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0  # uniform(0, base * 2^n)


def test_persistent_5xx_gives_up_after_the_attempt_limit_with_url_and_status() -> None:
    client, transport, _ = make(reply(500, b"oops", {"Content-Type": "text/plain"}), attempts=4)
    with pytest.raises(ServerError) as caught:
        client.deals(DealsQuery(category_slugs=("restaurants",)))
    assert len(transport.requests) == 4
    assert caught.value.status == 500 and "category_slugs=restaurants" in caught.value.url
    assert KEY not in str(caught.value) and "api_key=***" in str(caught.value)


def test_a_rate_limit_that_never_lifts_surfaces_as_rate_limited() -> None:
    client, _, _ = make(reply(429, b"", {"Retry-After": "1"}), attempts=3)
    with pytest.raises(RateLimited) as caught:
        client.deals(DealsQuery())
    assert caught.value.retry_after == 1.0


def test_timeouts_are_retried_then_reported() -> None:
    client, transport, _ = make(raising(requests.ReadTimeout("read timed out")), attempts=3)
    with pytest.raises(ApiTimeout):
        client.deals(DealsQuery())
    assert len(transport.requests) == 3


def test_a_timeout_followed_by_an_answer_succeeds() -> None:
    client, _, _ = make(raising(requests.ConnectTimeout("connect timed out")), reply(body=EMPTY_BODY))
    assert client.deals(DealsQuery()).deals == []


def test_an_unreachable_api_says_so_and_names_the_base_url() -> None:
    client, _, _ = make(raising(requests.ConnectionError(f"refused http://deals.test/v2?api_key={KEY}")), attempts=2)
    with pytest.raises(ApiUnreachable) as caught:
        client.categories()
    assert "cannot reach the deals API at http://deals.test/v2" in str(caught.value)
    assert KEY not in str(caught.value)


def test_a_bad_key_fails_at_once_with_advice() -> None:
    client, transport, _ = make(reply(401, {"error": "invalid api_key"}))
    with pytest.raises(AuthError) as caught:
        client.deals(DealsQuery())
    assert len(transport.requests) == 1
    assert caught.value.status == 401 and "EXS_DEALS_API_KEY" in str(caught.value)


def test_an_unknown_deal_is_not_found_and_not_retried() -> None:
    client, transport, _ = make(reply(404, {"error": "deal 1 not found"}))
    with pytest.raises(NotFound):
        client.deal(1)
    assert len(transport.requests) == 1


def test_an_html_body_with_status_200_is_a_typed_error_naming_url_and_status() -> None:
    page = b"<!DOCTYPE html><html><body><h1>We're sorry, but something went wrong.</h1></body></html>"
    client, _, _ = make(reply(200, page, {"Content-Type": "text/html"}), attempts=2)
    with pytest.raises(BadPayload) as caught:
        client.deals(DealsQuery())
    assert not isinstance(caught.value, TruncatedBody)
    assert caught.value.status == 200 and "/v2/deals?" in caught.value.url
    assert "not JSON" in str(caught.value) and "text/html" in str(caught.value)


def test_truncated_json_is_a_truncated_body_and_is_retried() -> None:
    body = deals_body([LOCAL_DEAL, ONLINE_DEAL])
    cut = orjson.dumps(body)[:700]
    client, transport, _ = make(reply(200, cut), reply(body=body))
    assert len(client.deals(DealsQuery()).deals) == 2
    assert len(transport.requests) == 2


def test_a_connection_cut_mid_body_is_a_truncated_body() -> None:
    client, _, _ = make(reply(200, b"x" * 100, cut=True), attempts=2)
    with pytest.raises(TruncatedBody) as caught:
        client.deals(DealsQuery())
    assert caught.value.status == 200


@pytest.mark.parametrize("body", [{"error": "nope"}, [1, 2], {"query": {"total": "many"}, "deals": []}])
def test_json_of_the_wrong_shape_is_a_bad_payload(body: object) -> None:
    client, _, _ = make(reply(200, body), attempts=1)
    with pytest.raises(BadPayload, match="expected"):
        client.deals(DealsQuery())


def test_other_4xx_are_not_retried() -> None:
    client, transport, _ = make(reply(400, {"error": "bad"}))
    with pytest.raises(DealsApiError) as caught:
        client.deals(DealsQuery())
    assert caught.value.status == 400 and len(transport.requests) == 1


def test_every_attempt_passes_the_rate_limiter() -> None:
    client, transport, clock = make(reply(503, b""), reply(503, b""), reply(body=EMPTY_BODY))
    clock.sleeps.clear()
    client._limiter = LeakyBucket(2.0, clock=clock, sleep=clock.sleep)  # 0.5 s apart at least
    client.deals(DealsQuery())
    assert len(transport.requests) == 3 and clock.now >= 1000.0 + 2 * 0.5
    assert client.stats["requests"] == 3 and client.stats["retries"] == 2 and client.stats["ServerError"] == 2
