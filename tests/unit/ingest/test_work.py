from __future__ import annotations

import pytest

from ingest.errors import InvalidWorkMessage
from ingest.work import WorkMessage, chunk_pages, group_listings, pages_needed

MESSAGE = WorkMessage(
    run="r1",
    category="restaurants",
    pages=(9, 10),
    per_page=100,
    snapshot="2016-02-01T00:00:00Z",
    updated_after=None,
    last_planned=10,
)


@pytest.mark.parametrize("total, expected", [(-3, 0), (0, 0), (1, 1), (99, 1), (100, 1), (101, 2), (1843, 19)])
def test_pages_needed_plans_exactly_what_the_total_implies(total: int, expected: int) -> None:
    assert pages_needed(total, 100) == expected


def test_small_categories_share_listings_whose_remainders_fill_one_page() -> None:
    totals = {"a": 160, "b": 130, "c": 250, "d": 145, "big": 4226, "empty": 0}
    listings = group_listings(totals, 100, 800)
    assert listings == [("big",), ("a", "b"), ("c", "d")]  # remainders 60+30 and 50+45: one last page each
    assert sum(pages_needed(sum(totals[s] for s in x), 100) for x in listings) == 43 + 3 + 4  # alone: 52


def test_listings_respect_their_bounds() -> None:
    assert group_listings({"a": 450, "b": 440}, 100, 800) == [("a",), ("b",)]  # 890 deals: over the bound
    assert group_listings({"a": 450, "b": 440}, 100, 1000) == [("a", "b")]
    assert group_listings({"a": 60, "b": 36}, 100, 800) == [("a",), ("b",)]  # 96 rows: no room left for growth
    assert group_listings({"a": 1, "b": 1, "c": 1}, 100, 800, max_slugs=2) == [("a", "b"), ("c",)]
    assert sorted(group_listings({"b": 150, "a": 120}, 100, 0)) == [("a",), ("b",)]  # 0: one listing per category
    assert group_listings({"none": 0}, 100, 800) == []


def test_listings_of_a_catalog_like_the_simulators_fill_their_pages() -> None:
    """79 categories of 124-353 deals fill 82 % of their pages alone; in listings, over 93 %."""
    totals = {f"c{i:02}": 124 + (i * 37) % 230 for i in range(79)}
    listings = group_listings(totals, 100, 800)
    assert sorted(s for listing in listings for s in listing) == sorted(totals)  # each category exactly once
    assert max(sum(totals[s] for s in listing) for listing in listings) <= 800
    pages = sum(pages_needed(sum(totals[s] for s in listing), 100) for listing in listings)
    alone = sum(pages_needed(t, 100) for t in totals.values())
    assert sum(totals.values()) / (100 * alone) < 0.85 < 0.93 < sum(totals.values()) / (100 * pages)


def test_chunks_cover_every_page_once() -> None:
    assert chunk_pages(10, 4) == [(1, 2, 3, 4), (5, 6, 7, 8), (9, 10)]
    assert chunk_pages(0, 4) == []


def test_round_trip_and_derived_messages() -> None:
    assert WorkMessage.from_bytes(MESSAGE.to_bytes()) == MESSAGE
    [follow] = MESSAGE.continuation(total=1000, chunk=8)  # exactly the 10 planned pages: one more
    assert follow.pages == (11,) and follow.last_planned == 11 and follow.attempt == 0
    retry = MESSAGE.retry([10])
    assert retry.pages == (10,) and retry.attempt == 1 and retry.last_planned == 10


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"{}", b'{"run": "r"}', MESSAGE.to_bytes().replace(b"[9,10]", b"[0]")]
)
def test_garbage_is_an_invalid_work_message(raw: bytes) -> None:
    with pytest.raises(InvalidWorkMessage):
        WorkMessage.from_bytes(raw)


def test_a_continuation_plans_the_pages_the_newer_total_implies_in_chunks() -> None:
    follows = MESSAGE.continuation(total=1_905, chunk=4)  # grew by 9 pages since the plan
    assert [f.pages for f in follows] == [(11, 12, 13, 14), (15, 16, 17, 18), (19, 20)]
    assert {f.last_planned for f in follows} == {20}  # only page 20, if full, continues again
    assert [f.pages for f in MESSAGE.continuation(total=3, chunk=4)] == [(11,)]  # a total that shrank: one page


def test_a_listing_is_its_slugs_joined_by_commas() -> None:
    listing = WorkMessage.from_bytes(MESSAGE.to_bytes().replace(b'"restaurants"', b'"gym,yoga"'))
    assert listing.slugs == ("gym", "yoga") and MESSAGE.slugs == ("restaurants",)
