from __future__ import annotations

import pytest

from ingest.errors import InvalidWorkMessage
from ingest.work import WorkMessage, chunk_pages, pages_needed

MESSAGE = WorkMessage(
    run="r1",
    category="restaurants",
    pages=(9, 10),
    per_page=100,
    snapshot="2016-02-01T00:00:00Z",
    updated_after=None,
    last_planned=10,
)


@pytest.mark.parametrize("total, expected", [(0, 0), (1, 3), (100, 4), (1843, 23), (20_000, 222)])
def test_pages_needed_adds_the_growth_margin_and_extra_pages(total: int, expected: int) -> None:
    assert pages_needed(total, 100, 0.10, 2) == expected


def test_chunks_cover_every_page_once() -> None:
    assert chunk_pages(10, 4) == [(1, 2, 3, 4), (5, 6, 7, 8), (9, 10)]
    assert chunk_pages(0, 4) == []


def test_round_trip_and_derived_messages() -> None:
    assert WorkMessage.from_bytes(MESSAGE.to_bytes()) == MESSAGE
    follow = MESSAGE.continuation(8)
    assert follow.pages == tuple(range(11, 19)) and follow.last_planned == 18
    retry = MESSAGE.retry([10])
    assert retry.pages == (10,) and retry.attempt == 1 and retry.last_planned == 10


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"{}", b'{"run": "r"}', MESSAGE.to_bytes().replace(b"[9,10]", b"[0]")]
)
def test_garbage_is_an_invalid_work_message(raw: bytes) -> None:
    with pytest.raises(InvalidWorkMessage):
        WorkMessage.from_bytes(raw)
