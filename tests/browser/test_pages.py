"""Every page of the dashboard, and GraphiQL, in headless Chromium against the real stack: what a
page shows equals what the API returns (or an independent computation over the events produced),
nothing loads from another origin, and axe-core finds no serious accessibility violation."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.activity_log import expected_cells
from tests.browser.conftest import AXE, FLOOR, UiStack, require, screenshot, wait_for
from tests.conftest import keyspace_session
from tests.review_log import adjusted, cell_ratings, latest_reviews, priors

pytestmark = pytest.mark.integration
PAGES = {  # name -> (path, a selector that is there once the page shows its data)
    "search": ("/search", "ol.deals li.deal"),
    "deal": ("/deal/{deal_id}", "table.history tbody tr"),
    "merchants": ("/merchants?category=product", "table.ranking tbody tr"),
    "live": ("/live", "table.trend tbody tr"),
    "map": ("/map", "svg.usmap .cells path"),
    "for-you": ("/for-you", "form.signin"),
}


def wait_css(driver: WebDriver, css: str, timeout_s: float = 30) -> list[Any]:
    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def open_page(stack: UiStack, driver: WebDriver, name: str) -> None:
    path, ready = PAGES[name]
    driver.get(stack.base_url + path.format(deal_id=stack.raws[0]["id"]))
    wait_css(driver, ready)


def foreign_requests(driver: WebDriver, origin: str) -> list[str]:
    """Every resource the page loaded from anywhere but the API's own origin."""
    urls = driver.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]")
    return [u for u in urls if not (u.startswith(origin + "/") or u.startswith(origin.replace("http", "ws", 1)))
            and not u.startswith("data:")]


def test_graphiql_is_served_from_local_assets_and_runs_a_query(ui_stack: UiStack, browser: WebDriver) -> None:
    browser.get(f"{ui_stack.base_url}/graphql")
    wait_css(browser, ".graphiql-container .graphiql-execute-button", 60)
    browser.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    result = WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "const cm = document.querySelector('.result-window .CodeMirror'); return cm && cm.CodeMirror.getValue()"))
    query = browser.execute_script("return document.querySelector('.graphiql-query-editor .CodeMirror')"
                                   ".CodeMirror.getValue()")
    assert json.loads(result) == {"data": ui_stack.query(query)}
    assert foreign_requests(browser, ui_stack.base_url) == []
    screenshot(browser, "graphiql")


def test_the_deal_page_shows_the_deal_its_merchant_pin_and_price_history(ui_stack: UiStack, browser: WebDriver) -> None:
    deal_id = str(ui_stack.raws[0]["id"])  # seeded three times: three observed prices
    want = ui_stack.query("""query($id: ID!) { deal(id: $id) { title price merchant { name }
        priceHistory { observedAt price value } } }""", {"id": deal_id})["deal"]
    assert len(want["priceHistory"]) == 3
    open_page(ui_stack, browser, "deal")
    assert browser.find_element(By.CSS_SELECTOR, "article.deal-page h1").text == want["title"]
    assert browser.find_element(By.CSS_SELECTOR, ".prices.big .price").text == f"${want['price']:.2f}"
    assert want["merchant"]["name"] in browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=merchant]").text
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "table.history tbody tr")]
    assert [(r[1], r[2]) for r in rows] == [(f"${p['price']:.2f}", f"${p['value']:.2f}") for p in want["priceHistory"]]
    wait_css(browser, "svg.usmap .pin")  # the merchant's place on the offline map
    wait_css(browser, "figure.chart canvas")  # the price-history chart
    screenshot(browser, "deal")
    browser.get(f"{ui_stack.base_url}/deal/999999999")
    assert "no deal with id 999999999" in wait_css(browser, ".state.empty")[0].text


def test_the_deal_page_says_whether_the_discount_is_real_and_lists_the_other_sellers(
        ui_stack: UiStack, browser: WebDriver) -> None:
    deal_id = "500"  # the market's earbuds: $92 against a claimed $200, four other sellers
    want = ui_stack.query("""query($id: ID!) { deal(id: $id) {
        score { verifiedDiscountPct referenceKind isGenuine flags explanation }
        sameOffer { sellers { dealId price } } } }""", {"id": deal_id})["deal"]
    assert want["score"] and len(want["sameOffer"]["sellers"]) >= 2
    browser.get(f"{ui_stack.base_url}/deal/{deal_id}")
    verdict = wait_css(browser, ".verdict")[0]
    score = want["score"]
    assert verdict.get_attribute("data-genuine") == str(score["isGenuine"]).lower()
    shown_pct = verdict.find_element(By.CSS_SELECTOR, ".verified-pct").text
    assert shown_pct == f"{round(score['verifiedDiscountPct'] * 100)}%"
    assert verdict.find_element(By.CSS_SELECTOR, ".explanation").text == score["explanation"]
    assert verdict.find_element(By.CSS_SELECTOR, "[data-reference-kind]").get_attribute(
        "data-reference-kind") == score["referenceKind"]
    flags = verdict.find_elements(By.CSS_SELECTOR, ".flags li")
    assert [li.get_attribute("data-flag") for li in flags] == score["flags"]
    rows = browser.find_elements(By.CSS_SELECTOR, "table.sellers tbody tr")
    assert [(tr.get_attribute("data-deal-id"), tr.find_elements(By.TAG_NAME, "td")[2].text) for tr in rows] == [
        (s["dealId"], f"${s['price']:.2f}") for s in want["sameOffer"]["sellers"]]
    browser.execute_script("document.getElementById('truth').scrollIntoView()")
    screenshot(browser, "deal-verdict")


def test_the_deal_page_shows_its_rating_and_reviews_as_the_events_give_them(ui_stack: UiStack,
                                                                           browser: WebDriver) -> None:
    reviews = latest_reviews(ui_stack.produced)  # (deal, user) -> the latest review, verified or not
    by_deal: dict[int, list[dict[str, Any]]] = {}
    for (deal, _user), review in reviews.items():
        by_deal.setdefault(deal, []).append(review)
    # the deal with the most verified reviews (then the most reviews): the page has something to show
    deal_id, its = max(by_deal.items(), key=lambda kv: (sum(r["verified"] for r in kv[1]), len(kv[1]), -kv[0]))
    verified = [r["rating"] for r in its if r["verified"]]
    want = adjusted(len(verified), sum(verified), priors(ui_stack.produced).get(its[0]["category_slug"]))

    def served() -> tuple[Any, ...]:
        deal = ui_stack.query("query($id: ID!) { deal(id: $id) { rating { adjusted count } reviews(first: 10) "
                              "{ nodes { id } } } }", {"id": str(deal_id)})["deal"]
        return (deal["rating"] and (deal["rating"]["adjusted"], deal["rating"]["count"]), len(deal["reviews"]["nodes"]))

    # The events query writes the purchase feed first, then the reviews, then the category priors: wait
    # until the API serves what the events give, then look at the page.
    wait_for(f"the rating and reviews of deal {deal_id}",
             lambda: served() == ((want, len(verified)) if verified else None, min(10, len(its))))
    browser.get(f"{ui_stack.base_url}/deal/{deal_id}")
    wait_css(browser, "ol.reviews li")
    rating = browser.find_element(By.CSS_SELECTOR, "section[aria-labelledby=reviews] p").text
    if verified:
        shown_as = Decimal(want).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)  # toFixed(1): exact value, half up
        assert f"{shown_as} / 5" in rating and f"from {len(verified)} verified" in rating, rating
        assert " · ".join(f"{s}★ {verified.count(s)}" for s in range(1, 6)) in rating
    else:
        assert rating == "No verified-purchase review yet."
    shown = [(li.find_element(By.CSS_SELECTOR, ".stars").get_attribute("aria-label"),
              li.get_attribute("class")) for li in browser.find_elements(By.CSS_SELECTOR, "ol.reviews li")]
    newest = sorted(its, key=lambda r: (r["occurred_at"], r["event_id"]), reverse=True)[:10]
    assert sorted(shown) == sorted((f"{r['rating']} of 5 stars", "verified" if r["verified"] else "unverified")
                                   for r in newest)
    screenshot(browser, "deal-reviews")


@pytest.mark.parametrize("sort", ["DEALS_SOLD", "HONESTY"])
def test_merchants_are_ranked_as_the_api_ranks_them(ui_stack: UiStack, browser: WebDriver, sort: str) -> None:
    want = ui_stack.query("""query($sort: MerchantSort!) { merchants(category: "product", sort: $sort, first: 20) {
        nodes { id dealsSold honesty { honestShare } } } }""", {"sort": sort})["merchants"]["nodes"]
    assert want
    browser.get(f"{ui_stack.base_url}/merchants?category=product&sort={sort}")
    wait_css(browser, "table.ranking tbody tr")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.ranking tbody tr")
    cells = [(tr.get_attribute("data-merchant-id"), tr.find_elements(By.TAG_NAME, "td")) for tr in rows]
    shown = [(merchant_id, tds[2].text, tds[5].get_attribute("data-honest-share")) for merchant_id, tds in cells]
    assert [(i, sold, float(share) if share else None) for i, sold, share in shown] == [
        (m["id"], str(m["dealsSold"]), m["honesty"]["honestShare"] if m["honesty"] else None) for m in want]
    if sort == "DEALS_SOLD":
        screenshot(browser, "merchants")


def test_the_map_shows_only_cells_over_the_anonymity_floor(ui_stack: UiStack, browser: WebDriver) -> None:
    open_page(ui_stack, browser, "map")
    floor = browser.find_element(By.CSS_SELECTOR, "p.floor")
    assert floor.get_attribute("data-min-users") == str(FLOOR) and f"at least {FLOOR} distinct users" in floor.text
    shown = {(p.get_attribute("data-geohash"), int(p.get_attribute("data-users") or 0))
             for p in browser.find_elements(By.CSS_SELECTOR, "svg.usmap .cells path")}
    hour = datetime.fromisoformat(ui_stack.query(
        "{ activityMap(bbox: {south: 24, west: -125, north: 50, east: -66}) { hour } }")["activityMap"]["hour"])
    everything = expected_cells(ui_stack.produced, 30.0, 1)
    this_hour = {(c[3], c[4]) for c in everything if c[0] == 4 and c[2] == hour.replace(tzinfo=None)}
    assert shown == {(cell, users) for cell, users in this_hour if users >= FLOOR}
    assert any(users < FLOOR for _, users in this_hour)  # a town with too few users exists and is hidden
    ratings = {c[3]: c[7] for c in cell_ratings(ui_stack.produced, 30.0, FLOOR)
               if c[0] == 4 and c[2] == hour.replace(tzinfo=None)}
    rows = [r.find_elements(By.TAG_NAME, "td") for r in browser.find_elements(By.CSS_SELECTOR, "table.cells tbody tr")]
    table = {tds[0].text: tds[5].get_attribute("data-average-rating") for tds in rows}
    assert table and {cell: float(r) if r else None for cell, r in table.items()} == {
        cell: None if ratings.get(cell) is None else round(ratings[cell], 4) for cell in table}
    assert any(table.values())  # reviews landed in a shown cell
    screenshot(browser, "map")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_no_page_has_a_serious_accessibility_violation(ui_stack: UiStack, browser: WebDriver, name: str) -> None:
    require(AXE, "axe-core (dashboard/node_modules, installed by npm ci)")
    open_page(ui_stack, browser, name)
    browser.execute_script(AXE.read_text())
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target)}))))")
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == []
    assert foreign_requests(browser, ui_stack.base_url) == []


def most_frequent_buyer(stack: UiStack) -> int:
    buyers = [e.payload["user_id"] for e in stack.produced
              if isinstance(e.payload, dict) and e.payload["event_type"] == "purchase" and e.payload["user_id"] >= 1]
    return max(set(buyers), key=buyers.count)


def sign_in(stack: UiStack, driver: WebDriver, user_id: int) -> str:
    """Open For you and sign in as `user_id` with a token of the API's own kind; returns the token."""
    from graphql_api.auth import create_token

    token = create_token(stack.settings, user_id)
    driver.get(f"{stack.base_url}/for-you")
    wait_css(driver, "form.signin input[name=token]")[0].send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    return token


def as_viewer(stack: UiStack, token: str, document: str) -> dict[str, Any]:
    response = httpx.post(f"{stack.base_url}/graphql", headers={"authorization": f"Bearer {token}"}, timeout=30,
                          json={"query": document})
    return response.json()["data"]["viewer"]


def test_for_you_signs_in_with_a_token_and_lists_the_viewers_purchases(ui_stack: UiStack, browser: WebDriver) -> None:
    user_id = most_frequent_buyer(ui_stack)
    token = sign_in(ui_stack, browser, user_id)
    want = as_viewer(ui_stack, token, "{ viewer { userId purchases(first: 20) { id } } }")
    assert want["userId"] == str(user_id) and want["purchases"]
    wait_css(browser, "table.mine tbody tr")
    assert browser.find_element(By.CSS_SELECTOR, "p.viewer").get_attribute("data-user-id") == str(user_id)
    rows = browser.find_elements(By.CSS_SELECTOR, "table.mine tbody tr")
    shown = [tr.get_attribute("data-purchase-id") for tr in rows]
    assert shown == [p["id"] for p in want["purchases"]]
    screenshot(browser, "for-you")
    browser.execute_script("sessionStorage.clear()")


def test_for_you_saves_and_deletes_interests_and_shows_a_new_alert_live(ui_stack: UiStack, browser: WebDriver) -> None:
    user_id = min(e.payload["user_id"] for e in ui_stack.produced
                  if isinstance(e.payload, dict) and e.payload["user_id"] >= 1)
    token = sign_in(ui_stack, browser, user_id)
    form = wait_css(browser, "form.interest-form")[0]
    form.find_element(By.NAME, "category").send_keys("electronics")
    form.find_element(By.NAME, "maxPrice").send_keys("120")
    form.find_element(By.NAME, "keywords").send_keys("earbuds, x200")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    item = wait_css(browser, "ul.interests li[data-interest-id]")[0]
    saved = as_viewer(ui_stack, token, "{ viewer { interests { id category maxPrice keywords } } }")["interests"]
    assert [(i["category"], i["maxPrice"], i["keywords"]) for i in saved] == [
        ("electronics", 120.0, ["earbuds", "x200"])]
    assert item.get_attribute("data-interest-id") == saved[0]["id"]
    wait_css(browser, "section[aria-labelledby=alerts] .state.empty")  # listed: no alert yet, the subscription runs

    # An alert row stored for this user, due a few seconds from now (after the page subscribed), as the
    # alerts stream stores it: the page must show it without a reload.
    alert_id = f"ui-{user_id}-500"
    with keyspace_session(ui_stack.settings) as session:
        session.execute(
            "INSERT INTO alerts_by_user (user_id, deliver_at, alert_id, interest_id, deal_id, alert_at, kind, reason, "
            "delivery, title, price) VALUES (%s, %s, %s, %s, %s, %s, 'NEW_MATCH', %s, 'INSTANT', %s, %s)",
            (user_id, datetime.now(UTC) + timedelta(seconds=4), alert_id, saved[0]["id"], 500, datetime.now(UTC),
             "electronics under $120 with earbuds", "Acme X200 Wireless Earbuds", 92.0))
    row = wait_css(browser, f'table.alerts tr[data-alert-id="{alert_id}"]', 30)[0]
    assert "Acme X200 Wireless Earbuds" in row.text and "electronics under $120" in row.text
    screenshot(browser, "for-you-alerts")

    item.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(browser, 20).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "ul.interests li"))
    assert as_viewer(ui_stack, token, "{ viewer { interests { id } } }")["interests"] == []
    browser.execute_script("sessionStorage.clear()")
