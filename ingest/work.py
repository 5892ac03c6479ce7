"""Work messages on `deal_pages`: which pages of which category to fetch, for which snapshot.

JSON, keyed by category. Pages are listed explicitly so a retry can carry just the pages that failed.
`last_planned` is the last page the planner thought the category needed: a fetcher that finds that page
full plans the next chunk itself (a continuation), so growth beyond the safety margin is not lost.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import orjson

from ingest.errors import InvalidWorkMessage

_FIELDS = ("run", "category", "pages", "per_page", "snapshot", "updated_after", "last_planned", "attempt")


@dataclass(frozen=True)
class WorkMessage:
    run: str
    category: str
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

    def continuation(self, chunk: int) -> WorkMessage:
        """The next `chunk` pages after `last_planned`."""
        start = self.last_planned + 1
        return replace(
            self, pages=tuple(range(start, start + chunk)), last_planned=start + chunk - 1, attempt=0
        )

    def retry(self, pages: list[int]) -> WorkMessage:
        return replace(self, pages=tuple(sorted(pages)), attempt=self.attempt + 1)


def pages_needed(total: int, per_page: int, margin: float, extra: int) -> int:
    """Pages to plan for a reported `total`: the total grown by `margin`, plus `extra` pages."""
    if total <= 0:
        return 0
    return math.ceil(total * (1 + margin) / per_page) + extra


def chunk_pages(n_pages: int, chunk: int) -> list[tuple[int, ...]]:
    """[1..n] cut into runs of at most `chunk` pages."""
    return [
        tuple(range(first, min(n_pages, first + chunk - 1) + 1)) for first in range(1, n_pages + 1, chunk)
    ]
