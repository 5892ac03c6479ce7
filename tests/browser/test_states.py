"""The error states: with the deal store down every page says so (the page itself still comes from
the API), and with the API gone the page that is already open says the API is not answering."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from graphql_api.app import create_app
from tests.browser.conftest import UiStack, console_errors, port_of_our_own, screenshot, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store_down_url(ui_stack: UiStack) -> Iterator[str]:
    """The API with Cassandra unreachable (a port where nothing listens)."""
    settings = ui_stack.settings.model_copy(update={"cassandra_port": port_of_our_own()})
    with serve(create_app(settings)) as (base_url, _server):
        yield base_url


@pytest.mark.parametrize("path", ["/search", "/deal/1", "/merchants", "/live", "/map"])
def test_every_page_says_when_the_deal_store_is_down(store_down_url: str, browser: WebDriver, path: str) -> None:
    browser.get(store_down_url + path)
    alert = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[role="alert"][data-error-kind="store-down"]'))
    assert "deal store is unavailable" in alert[0].text
    if path == "/search":
        screenshot(browser, "error-store-down")


def test_an_open_page_says_when_the_api_is_gone(ui_stack: UiStack, chromium: WebDriver) -> None:
    with serve(create_app(ui_stack.settings)) as (base_url, server):
        chromium.get(f"{base_url}/search")
        WebDriverWait(chromium, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ol.deals li.deal"))
        server.should_exit = True
        WebDriverWait(chromium, 30).until(lambda _d: _closed(base_url))
        chromium.find_element(By.CSS_SELECTOR, 'nav.tree a[data-slug="fitness"]').click()
        alert = WebDriverWait(chromium, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, '[role="alert"][data-error-kind="api-down"]'))
        assert "API is not answering" in alert[0].text
        screenshot(chromium, "error-api-down")
    errors = console_errors(chromium)  # the failed request is logged; nothing else may be
    assert errors and all("/graphql" in e["message"] for e in errors), errors


def _closed(base_url: str) -> bool:
    port = urlsplit(base_url).port or 80
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
