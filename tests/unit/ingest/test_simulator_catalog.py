"""The simulator's catalog, churn, query semantics and truth, in-process (no HTTP)."""

from __future__ import annotations

import re
from collections import Counter

import orjson
import pytest

from ingest.simulator import NO_CHURN, ChurnRates, ManualClock, SimConfig, Simulator
from ingest.simulator.config import SQOOT_2016
from ingest.simulator.search import parse_query_string, to_query
from ingest.simulator.values import EXPIRY_SENTINELS
from pipeline.taxonomy import CATEGORY_NAMES, PARENTS


def make(seed: int = 5, deals: int = 3_000, **config: object) -> tuple[Simulator, ManualClock]:
    clock = ManualClock(SQOOT_2016)
    return Simulator(SimConfig(seed=seed, deals=deals, total_jitter=0.0, **config), clock=clock), clock  # type: ignore[arg-type]


def all_deals(sim: Simulator) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(r.wire())["deal"] for r in sim.catalog.live.values()]


def page(sim: Simulator, raw: str) -> tuple[int, list[int]]:
    total, wires, _ = sim.search(to_query(parse_query_string(raw)))
    return total, [orjson.loads(w)["deal"]["id"] for w in wires]


def test_same_seed_same_catalog_and_same_churn() -> None:
    (a, clock_a), (b, clock_b) = make(seed=9), make(seed=9)
    assert [r.wire() for r in a.catalog.live.values()] == [r.wire() for r in b.catalog.live.values()]
    clock_a.advance(7200)
    clock_b.advance(3600)
    b.now()  # b catches up in two steps: the state depends on simulated time only
    clock_b.advance(3600)
    assert a.live_at(a.now()) == b.live_at(b.now())
    assert a.all_versions() == b.all_versions()
    c, _ = make(seed=10)
    assert [r.id for r in c.catalog.live.values()] != [r.id for r in a.catalog.live.values()]


def test_catalog_has_the_real_apis_quirks() -> None:
    sim, _ = make(deals=5_000)
    deals = all_deals(sim)
    online = [d for d in deals if d["online"]]
    assert online and all(d["merchant"]["address"] is None and d["merchant"]["latitude"] is None for d in online)
    assert any(d["expires_at"] in EXPIRY_SENTINELS for d in deals)
    assert any(d["expires_at"] is None for d in deals)
    assert any(d["number_sold"] is None for d in deals) and any(d["number_sold"] == 0 for d in deals)
    assert any(d["description"] and d["description"].startswith("<p>") for d in deals)
    assert any(d["provider_slug"] == "restaurant-com" and d["merchant"]["region"] == "American" for d in deals)
    assert any(d["title"].endswith(" ") for d in deals)
    assert {d["category_slug"] for d in deals} <= set(CATEGORY_NAMES)
    assert any(d["category_slug"] in PARENTS for d in deals), "some deals are filed under a parent slug"
    titles = Counter(d["title"] for d in deals)
    assert titles.most_common(1)[0][1] > 1, "the same offer appears under several ids"


def test_discounts_are_two_decimal_fractions_consistent_with_the_short_title() -> None:
    sim, _ = make()
    for d in all_deals(sim):
        assert d["discount_amount"] == round(d["value"] - d["price"], 2)
        assert d["discount_percentage"] == round(d["discount_amount"] / d["value"], 2)
        assert 0 <= d["discount_percentage"] <= 1
        assert d["short_title"].startswith(f"{round(100 * d['discount_percentage'])}% off at ")
        assert isinstance(d["price"], float) and isinstance(d["value"], float)
        assert d["updated_at"].endswith("Z") and d["created_at"] <= d["updated_at"]


def test_semicolons_and_ampersands_both_separate_and_unknown_params_are_ignored() -> None:
    sim, _ = make()
    with_semicolons = page(sim, "api_key=k;category_slugs=restaurants;page=2;per_page=7")
    with_ampersands = page(sim, "api_key=k&category_slugs=restaurants&page=2&per_page=7")
    assert with_semicolons == with_ampersands and len(with_semicolons[1]) == 7
    singular = page(sim, "category_slug=restaurants&per_page=5")  # the typo exstreamly made
    assert singular[0] == len(sim.catalog.live)


def test_per_page_is_clamped_and_bad_numbers_fall_back_to_defaults() -> None:
    sim, _ = make()
    assert len(page(sim, "per_page=500")[1]) == 100
    assert len(page(sim, "per_page=abc&page=zz")[1]) == 10
    assert to_query({"per_page": "0"}).per_page == 1


def test_a_page_past_the_end_is_empty() -> None:
    sim, _ = make()
    total, ids = page(sim, "category_slugs=restaurants&per_page=100&page=999")
    assert total > 0 and ids == []


def test_category_pages_partition_the_category_newest_first() -> None:
    sim, _ = make()
    total, _ = page(sim, "category_slugs=restaurants&per_page=1")
    ids = [
        i for p in range(1, total // 100 + 2) for i in page(sim, f"category_slugs=restaurants&per_page=100&page={p}")[1]
    ]
    expected = sorted((r.id for r in sim.catalog.live.values() if r.category == "restaurants"), reverse=True)
    assert ids == expected


def test_a_new_deal_shifts_every_page_by_one_row() -> None:
    sim, clock = make(churn=ChurnRates(new=2.0, change=0.0, sold=0.0, withdraw=0.0))
    before = page(sim, "per_page=50&page=1")[1] + page(sim, "per_page=50&page=2")[1]
    while sim.size() == 3_000:
        clock.advance(1)
    sim.now()
    after = page(sim, "per_page=50&page=2")[1]
    assert after[0] == before[49], "page 1's last row moved to page 2"


def test_updated_after_is_strictly_after_and_sees_changes() -> None:
    sim, clock = make(churn=ChurnRates(new=0.0, change=0.5, sold=0.5, withdraw=0.0))
    cutoff = clock.now()
    assert page(sim, "updated_after=2016-02-01T00:00:00Z")[0] == 0
    clock.advance(1800)
    total, ids = page(sim, "updated_after=2016-02-01T00:00:00&per_page=100")
    assert total > 100
    assert all(sim.catalog.live[i].updated_ts > cutoff for i in ids)


def test_total_jitters_by_at_most_the_configured_share() -> None:
    sim = Simulator(SimConfig(seed=1, deals=20_000, total_jitter=0.0015, churn=NO_CHURN), clock=ManualClock(SQOOT_2016))
    totals = {page(sim, "per_page=1")[0] for _ in range(30)}
    assert len(totals) > 3
    assert all(abs(t - 20_000) <= 30 for t in totals)


def test_truth_tracks_births_versions_and_deaths() -> None:
    sim, clock = make(churn=ChurnRates(new=0.3, change=0.3, sold=0.3, withdraw=0.3))
    start = clock.now()
    initial = sim.live_at(start)
    clock.advance(3600)
    end = sim.now()
    now_live = sim.live_at(end)
    throughout = sim.live_throughout(start, end)
    assert throughout == initial & now_live
    assert now_live == set(sim.catalog.live)
    born = now_live - initial
    assert born and all(sim.versions(i)[0].valid_from > start for i in born)
    died = initial - now_live
    assert died and all(sim.versions(i)[-1].valid_to is not None for i in died)
    changed = [i for i in throughout if len(sim.versions(i)) > 1]
    assert changed
    for deal_id in changed[:50]:
        history = sim.versions(deal_id)
        assert all(a.valid_to == b.valid_from for a, b in zip(history, history[1:], strict=False))
        live = sim.catalog.live[deal_id]
        assert (history[-1].price, history[-1].value) == (live.price, live.value)


@pytest.mark.parametrize("raw", ["Milwaukee, WI", "Milwaukee,WI", "43.0389,-87.9065"])
def test_location_resolves_and_forces_online_false(raw: str) -> None:
    query = to_query({"location": raw, "online": "true"})
    assert query.location is not None and query.online is False
    sim, _ = make()
    total, wires, _ = sim.search(query)
    assert all(orjson.loads(w)["deal"]["online"] is False for w in wires)


#: What a served title states, read back independently of how the simulator writes it.
STATED_PRICE = re.compile(r"^\$([0-9.]+) for ")
STATED_VALUE = re.compile(r"(?:\(\$([0-9.]+) Value\)$|^\$[0-9.]+ for \$([0-9.]+) Worth of )")
STATED_PERCENT = re.compile(r"^(Up to )?([0-9]+)% Off ")


def test_titles_state_the_served_price_value_and_discount_after_repricing() -> None:
    """A repriced deal's headline and short title follow its new price (the initial catalog's and the
    history scenarios' and churn's changes alike)."""
    sim, clock = make(deals=2_000, churn=ChurnRates(new=0.0, change=0.05, sold=0.0, withdraw=0.0))
    for _ in range(7):
        clock.advance(86_400)  # the scheduled price paths start 1-6 days in
        sim.search(to_query(parse_query_string("per_page=1")))
    repriced = [d for d in all_deals(sim) if d["updated_at"] > "2016-02-01T00:00:00Z"]
    assert len(repriced) > 200
    stated = 0
    for d in all_deals(sim):
        pct = round(100 * d["discount_percentage"])
        assert d["short_title"].startswith(f"{pct}% off at "), d
        title = d["title"]
        if (price := STATED_PRICE.match(title)) is not None:
            assert float(price[1]) == d["price"], d
        if (value := STATED_VALUE.search(title)) is not None:
            assert float(value[1] or value[2]) == d["value"], d
        if (percent := STATED_PERCENT.match(title)) is not None:
            claimed = int(percent[2])
            assert pct > 0, d
            assert (min(94, pct) <= claimed <= pct + 5) if percent[1] else claimed == pct, d
        stated += any(m is not None for m in (price, value, percent))
    assert stated > len(all_deals(sim)) / 2
