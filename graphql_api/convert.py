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
