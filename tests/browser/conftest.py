"""Fixtures of the browser tests: the real stack behind the real API, and headless Chromium.

One session-scoped stack: deals seeded through the pipeline's sink into their own keyspace, the
streaming activity job running from a Kafka topic of its own, user events produced to that topic
now, and the API (dashboard included) served by uvicorn on a port in 18000-18999. Chromium is
Debian's `chromium` driven through `chromium-driver` (Selenium); with CI=true a missing browser or
an unbuilt dashboard fails the run.
"""
from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from starlette.applications import Starlette

from conf.settings import Settings
from graphql_api.app import create_app
from graphql_api.dashboard import DIST
from tests import factories, market_factories
from tests.activity_log import LoggedEvent
from tests.browser.events import DealRef, deal_refs, events_now
from tests.conftest import IN_CI, UI_TEST_KEYSPACE, keyspace_session, raw_records, truncate_keyspace
from tests.integration.activity_fixtures import create_topic_without_time_retention, produce_log

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("EXS_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("EXS_CHROMEDRIVER", "/usr/bin/chromedriver"))
AXE = ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
#: Where each page's screenshot goes; `EXS_SCREENSHOTS_DIR=dashboard/screenshots` refreshes the README's.
SCREENSHOTS = Path(os.environ.get("EXS_SCREENSHOTS_DIR", ROOT / ".runtime" / "screenshots"))
FLOOR = 5
LIVE_CATEGORY = "bowling"  # only the live test's own events are about it
PORTS = range(18000, 19000)


def require(path: Path, what: str) -> None:
    """Fail in CI, skip elsewhere, when something the browser tests need is missing."""
    if path.exists():
        return
    message = f"{what} is missing ({path}); `./dev test` installs and builds it"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)  # outside CI only: with CI=true the line above fails the run


def port_of_our_own() -> int:
    """A free port in 18000-18999 (the range these tests use on a shared machine)."""
    for port in random.sample(PORTS, 50):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise AssertionError("no free port in 18000-18999")


@contextmanager
def serve(app: Starlette) -> Iterator[tuple[str, uvicorn.Server]]:
    """Serve `app` with uvicorn in a thread; yields the base URL and the server (to stop it early)."""
    port = port_of_our_own()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def api(base_url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of a GraphQL request to the running API that must succeed."""
    response = httpx.post(f"{base_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float = 120, every_s: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(every_s)


def seed_payloads() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(first versions, later versions): random deals, bowling deals for the live test, a small market
    (one item at several sellers, one of them inflating its value), and a few deals whose price
    changes twice (their price history has three points)."""
    rng = random.Random(15)
    first = [d for d in factories.deals(180, seed=15) if d["category_slug"] != LIVE_CATEGORY]
    first += [factories.deal(rng, 7_000_000 + i, category_slug=LIVE_CATEGORY, category_name=LIVE_CATEGORY,
                             online=False) for i in range(3)]
    first += market_factories.market(rng)
    later = []
    for raw in first[:4]:
        for step in (1, 2):
            updated = factories.BASE_TIME + timedelta(days=2 * step)
            price = round(raw["price"] * (1 - 0.1 * step), 2)
            later.append(raw | {"price": price, "discount_amount": round(raw["value"] - price, 2),
                                "discount_percentage": round((raw["value"] - price) / raw["value"], 2),
                                "updated_at": factories.iso(updated)})
    return first, later


@dataclass
class UiStack:
    """The running stack the pages are tested against."""

    base_url: str
    settings: Settings
    raws: list[dict[str, Any]]
    deals: list[DealRef]
    produced: list[LoggedEvent] = field(default_factory=list)

    def produce(self, log: list[LoggedEvent]) -> None:
        """Send events to the activity topic the streaming job reads."""
        produce_log(self.settings.kafka_bootstrap, self.settings.topic_user_events, log)
        self.produced += log

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return api(self.base_url, document, variables)


@pytest.fixture(scope="session")
def ui_settings(settings: Settings, kafka_bootstrap: str) -> Settings:
    return settings.model_copy(update={
        "keyspace": UI_TEST_KEYSPACE, "topic_user_events": f"{settings.topic_user_events}_ui",
        "activity_min_users_per_cell": FLOOR, "activity_allowed_lateness_s": 30.0,
    })


# Package scope: its activity streams hold the query names `activity-events`/`activity-windows` in the
# shared Spark session, so they must stop before the integration tests start their own.
@pytest.fixture(scope="package")
def ui_stack(spark: Any, ui_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStack]:
    """Seeded deals, the streaming activity job, events of the last 20 s, and the API serving it all."""
    require(DIST / "index.html", "the dashboard build (dashboard/dist)")
    from pipeline.schemas import RAW_RECORD_SCHEMA
    from pipeline.sink import DealTablesSink
    from streaming.activity_job import start_activity_streams

    with keyspace_session(ui_settings) as session:
        truncate_keyspace(session, UI_TEST_KEYSPACE)
    first, later = seed_payloads()
    sink = DealTablesSink(ui_settings)
    try:  # one batch holding every version, as the batch layer reads them back from the lake
        sink(spark.createDataFrame(raw_records(first + later), RAW_RECORD_SCHEMA), None)
    finally:
        sink.close()
    create_topic_without_time_retention(ui_settings.kafka_bootstrap, ui_settings.topic_user_events)
    queries = start_activity_streams(spark, ui_settings,
                                     checkpoint_root=(tmp_path_factory.mktemp("ui-ck")).as_uri())
    try:
        with serve(create_app(ui_settings)) as (base_url, _server):
            refs = [d for d in deal_refs(first) if d.category_slug != LIVE_CATEGORY]
            stack = UiStack(base_url, ui_settings, first + later, deal_refs(first))
            stack.produce(events_now(refs, 400, seed=15, prefix="seed"))
            purchases = sum(e.payload["event_type"] == "purchase" for e in stack.produced
                            if isinstance(e.payload, dict))

            def seeded() -> bool:
                for query in (queries.events, queries.windows):
                    assert query.exception() is None, query.exception()
                return len(stack.query("{ purchaseFeed(first: 100) { id } }")["purchaseFeed"]) >= min(purchases, 100)

            wait_for("the seeded events in the purchase feed", seeded, timeout_s=300)
            yield stack
    finally:
        queries.stop()


def chrome_options() -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--lang=en-US", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    """One headless Chromium for the run."""
    require(CHROMIUM, "Chromium (Debian package `chromium`)")
    require(CHROMEDRIVER, "chromedriver (Debian package `chromium-driver`)")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chrome_options())
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    """Browser console entries at SEVERE since the last call (the log is drained by reading it)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture()
def browser(chromium: WebDriver) -> Iterator[WebDriver]:
    """The browser, with its console checked after the test: a page may log no error."""
    chromium.get("about:blank")
    console_errors(chromium)
    yield chromium
    errors = console_errors(chromium)
    assert errors == [], f"the page logged console errors: {errors}"


def screenshot(driver: WebDriver, name: str) -> Path:
    """Save a PNG of the whole page under SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 2400)")
    driver.set_window_size(1280, max(900, int(height)))
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(1280, 900)
    return path
