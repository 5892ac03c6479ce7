"""Small value conversions shared by the type modules."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def utc(moment: datetime) -> datetime: ...


@overload
def utc(moment: None) -> None: ...


def utc(moment: datetime | None) -> datetime | None:
    """The driver returns naive UTC timestamps; the API serves them with an explicit offset."""
    return None if moment is None else moment.replace(tzinfo=UTC)


#: Months of a user's purchase history the API reads back (`viewer.purchases`, recommendations).
HISTORY_MONTHS = 3


def months_back(now: datetime, count: int) -> list[str]:
    """`YYYY-MM` of this month and the `count - 1` before it, newest first."""
    year, month = now.year, now.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months
