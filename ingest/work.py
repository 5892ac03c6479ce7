"""Work messages on `deal_pages`: which pages of which listing (one or more categories) to fetch, and when.

JSON, keyed by listing. A listing is one category, or several small ones crawled together as one
`category_slugs=a,b` query, so their short last pages merge into full ones (under a rate limit every
request counts). Pages are listed explicitly so a retry can carry just the pages that failed.
`last_planned` is the last page the planner's `total` implied, with no margin: a fetcher that finds that
page full plans the pages the page's own (newer) `total` implies, at least one (a continuation), so work
continues while pages are full and growth is not lost; an empty or short last page ends the listing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import orjson

from ingest.errors import InvalidWorkMessage

# slugs per listing: keeps the query string short (about 1 KB) for any server's URL limit
MAX_SLUGS = 40
_FIELDS = ("run", "category", "pages", "per_page", "snapshot", "updated_after", "last_planned", "attempt")


@dataclass(frozen=True)
class WorkMessage:
    run: str
    category: str  # the listing: one slug, or several joined by "," (the API's own list syntax)
    pages: tuple[int, ...]
    per_page: int
    snapshot: str  # ISO 8601 UTC, the server's clock when the plan was made
    updated_after: str | None  # None: a full crawl; else an incremental one
    last_planned: int
    attempt: int = 0

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> WorkMessage:
        try:
            data = orjson.loads(raw or b"")
            message = cls(**{name: data[name] for name in _FIELDS})
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidWorkMessage(
                f"expected a JSON work message with {_FIELDS}, got {raw!r:.200}"
            ) from exc
        if not message.pages or any(not isinstance(p, int) or p < 1 for p in message.pages):
            raise InvalidWorkMessage(f"pages must be 1-based integers, got {message.pages!r}")
        return replace(message, pages=tuple(message.pages))

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(self.category.split(","))

    def continuation(self, total: int, chunk: int) -> list[WorkMessage]:
        """After a full last page: the pages up to what `total` implies (at least one), `chunk` per message."""
        last = max(self.last_planned + 1, pages_needed(total, self.per_page))
        return [
            replace(self, pages=tuple(p + self.last_planned for p in pages), last_planned=last, attempt=0)
            for pages in chunk_pages(last - self.last_planned, chunk)
        ]

    def retry(self, pages: list[int]) -> WorkMessage:
        return replace(self, pages=tuple(sorted(pages)), attempt=self.attempt + 1)


def pages_needed(total: int, per_page: int) -> int:
    """Pages a reported `total` implies; growth is left to continuations, so no page is planned empty."""
    return max(0, math.ceil(total / per_page))


def group_listings(
    totals: dict[str, int], per_page: int, max_deals: int, max_slugs: int = MAX_SLUGS
) -> list[tuple[str, ...]]:
    """Non-empty categories packed into listings whose short last pages merge into (nearly) full ones.

    A listing's pages are its categories' full pages plus one page for the sum of their remainders
    (`total % per_page`), so remainders are packed first-fit decreasing into one page each, leaving
    `per_page // 20` rows for growth (a full last page costs a continuation). A listing holds at most
    `max_deals` deals, so its pages are fetched together and churn shifts few of them; a category of
    `max_deals` or more stays alone (`max_deals` 0: one listing per category).
    """
    room = per_page - per_page // 20
    alone: list[tuple[str, ...]] = []
    listings: list[list[str]] = []
    rests: list[int] = []  # per listing: its remainders summed, the rows of its last page
    sizes: list[int] = []  # per listing: its deals
    for slug in sorted((s for s, t in totals.items() if t > 0), key=lambda s: (-(totals[s] % per_page), s)):
        total, rest = totals[slug], totals[slug] % per_page
        if total >= max_deals:
            alone.append((slug,))
            continue
        fits = (
            i
            for i, slugs in enumerate(listings)
            if rests[i] + rest <= room and sizes[i] + total <= max_deals and len(slugs) < max_slugs
        )
        i = next(fits, len(listings))
        if i == len(listings):
            listings.append([])
            rests.append(0)
            sizes.append(0)
        listings[i].append(slug)
        rests[i] += rest
        sizes[i] += total
    return alone + [tuple(slugs) for slugs in listings]


def chunk_pages(n_pages: int, chunk: int) -> list[tuple[int, ...]]:
    """[1..n] cut into runs of at most `chunk` pages."""
    return [
        tuple(range(first, min(n_pages, first + chunk - 1) + 1)) for first in range(1, n_pages + 1, chunk)
    ]
