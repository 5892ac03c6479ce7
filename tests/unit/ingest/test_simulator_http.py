"""The simulator over HTTP on a loopback port: auth, the simulated Date, every fault mode, and the client
riding through them."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import orjson
import pytest
import requests

from conf.settings import load_settings
from ingest.api_model import DealsQuery
from ingest.client import DealsClient
from ingest.errors import AuthError, BadPayload, RateLimited, ServerError, TruncatedBody
from ingest.simulator import NO_CHURN, FaultRates, ManualClock, SimConfig, Simulator, SimulatorServer
from ingest.simulator.config import SQOOT_2016

KEY = "local-dev-key"


def serve(faults: FaultRates | None = None, **config: object) -> SimulatorServer:
    sim = Simulator(
        SimConfig(seed=3, deals=500, churn=NO_CHURN, faults=faults or FaultRates(), **config),  # type: ignore[arg-type]
        clock=ManualClock(SQOOT_2016),
    )
    return SimulatorServer(sim).start()


@pytest.fixture(scope="module")
def plain() -> Iterator[SimulatorServer]:
    server = serve()
    yield server
    server.stop()


def client_for(server: SimulatorServer, attempts: int = 5, auth: str = "query", key: str = KEY) -> DealsClient:
    settings = load_settings(
        deals_api_url=server.url,
        deals_api_key=key,
        deals_api_auth=auth,
        deals_api_max_attempts=attempts,
        deals_api_backoff_s=0.01,
        deals_api_backoff_max_s=0.05,
        deals_api_rate_per_s=10_000,
    )
    return DealsClient(settings, pool_size=4)


def test_deal_urls_carry_the_callers_key_and_host(plain: SimulatorServer) -> None:
    body = requests.get(f"{plain.url}/deals/?api_key={KEY};per_page=1", timeout=5).json()
    deal = body["deals"][0]["deal"]
    assert deal["url"] == f"{plain.url}/deals/{deal['id']}/click?api_key={KEY}"
    assert list(body) == ["query", "deals"]
    assert list(body["query"]) == [
        "total",
        "page",
        "per_page",
        "query",
        "location",
        "radius",
        "online",
        "category_slugs",
        "provider_slugs",
        "updated_after",
    ]


def test_the_date_header_is_the_simulated_clock(plain: SimulatorServer) -> None:
    response = requests.get(f"{plain.url}/categories?api_key={KEY}", timeout=5)
    assert parsedate_to_datetime(response.headers["Date"]).timestamp() == SQOOT_2016


def test_header_auth_works_and_a_bad_key_is_401(plain: SimulatorServer) -> None:
    assert client_for(plain, auth="header").deals(DealsQuery(per_page=1)).total == 500
    with pytest.raises(AuthError):
        client_for(plain, key="wrong").deals(DealsQuery())
    assert requests.get(f"{plain.url}/deals", timeout=5).status_code == 401


def test_click_redirects_and_unknown_deals_are_404(plain: SimulatorServer) -> None:
    deal = client_for(plain).deals(DealsQuery(per_page=1)).deals[0]
    click = requests.get(deal["url"], allow_redirects=False, timeout=5)
    assert click.status_code == 302 and click.headers["location"] == deal["untracked_url"]
    assert requests.get(f"{plain.url}/deals/1?api_key={KEY}", timeout=5).status_code == 404


def test_truth_endpoint_lists_the_live_ids(plain: SimulatorServer) -> None:
    base = plain.url.removesuffix("/v2")
    live = requests.get(f"{base}/_truth/live?at={SQOOT_2016}", timeout=5).json()
    assert live["count"] == 500 and live["ids"] == sorted(plain.sim.catalog.live)
    export = requests.get(f"{base}/_truth/export", timeout=5).content.splitlines()
    assert len(export) == 500 and "valid_from" in orjson.loads(export[0])


@pytest.mark.parametrize(
    "fault, status, content_type",
    [
        ("rate_limited", 429, "application/json"),
        ("unavailable", 503, "text/html"),
        ("html", 200, "text/html"),
        ("truncated", 200, "application/json"),
    ],
)
def test_each_fault_mode_is_served(fault: str, status: int, content_type: str) -> None:
    server = serve(FaultRates(**{fault: 1.0}))  # type: ignore[arg-type]
    try:
        response = requests.get(f"{server.url}/deals?api_key={KEY}&per_page=5", timeout=5)
        assert response.status_code == status and response.headers["content-type"].startswith(content_type)
        if fault == "rate_limited":
            assert response.headers["Retry-After"] == "1"
        if fault == "truncated":
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(response.content)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "fault, error",
    [
        ("rate_limited", RateLimited),
        ("unavailable", ServerError),
        ("html", BadPayload),
        ("truncated", TruncatedBody),
    ],
)
def test_the_client_raises_the_typed_error_when_a_fault_persists(fault: str, error: type[Exception]) -> None:
    server = serve(FaultRates(retry_after_s=0, **{fault: 1.0}))  # type: ignore[arg-type]
    try:
        with pytest.raises(error) as caught:
            client_for(server, attempts=2).deals(DealsQuery())
        assert server.url in str(caught.value)
    finally:
        server.stop()


def test_the_client_rides_through_a_mix_of_faults() -> None:
    faults = FaultRates(
        rate_limited=0.1, unavailable=0.1, html=0.1, truncated=0.1, slow=0.1, slow_s=0.05, retry_after_s=0
    )
    server = serve(faults)
    try:
        client = client_for(server, attempts=10)
        ids = [d["id"] for p in range(1, 6) for d in client.deals(DealsQuery(page=p, per_page=100)).deals]
        assert sorted(ids) == sorted(server.sim.catalog.live)
        assert client.stats["retries"] > 0
        assert sum(v for k, v in server.app.served.items() if k != "200") > 0
    finally:
        server.stop()


def test_the_server_side_rate_limit_answers_429_with_retry_after() -> None:
    server = serve(rate_limit_per_s=5.0, rate_burst=2)
    try:
        codes = [requests.get(f"{server.url}/categories?api_key={KEY}", timeout=5) for _ in range(6)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    finally:
        server.stop()
