"""Saved interests: the input of `saveInterest`, its validation (the search filters' bounds) and the type.

Each message starts with the argument path it is about, as the search's do. An interest needs a
category or a place: the matcher finds interests by the deal's cell or category (pipeline.alert_keys),
so an interest with neither could only be found by reading every interest for every deal.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry

from conf.settings import Settings
from graphql_api.errors import InvalidInput
from graphql_api.inputs import MAX_TEXT_LENGTH, NearInput, parse_category
from graphql_api.location import Location
from graphql_api.repository import Row
from pipeline.alert_keys import interest_index_keys
from pipeline.cells import cells_covering

MAX_KEYWORDS = 5
MAX_KEYWORD_LENGTH = 40
MAX_PER_DAY = 1000


@strawberry.enum(description="When the alerts of an interest are delivered.")
class Delivery(Enum):
    INSTANT = "INSTANT"
    HOURLY = "HOURLY"
    DAILY = "DAILY"


@strawberry.input(description="Hours (UTC, 0..23) without instant alerts: from `startHour` up to `endHour`.")
class QuietHoursInput:
    start_hour: int = strawberry.field(description="First quiet hour, 0..23 (UTC).")
    end_hour: int = strawberry.field(description="First hour alerts may come again, 0..23 (UTC); may wrap midnight.")


@strawberry.input(description="What to be alerted about; omitted criteria do not filter. Needs a category or near.")
class InterestInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="An interest to replace; new when absent.")
    category: str | None = strawberry.field(default=None, description="Category slug; a parent includes its children.")
    max_price: float | None = strawberry.field(default=None, description="Highest price, inclusive, >= 0.")
    min_discount: float | None = strawberry.field(default=None, description="Lowest discount fraction, 0..1.")
    min_verified_discount: float | None = strawberry.field(
        default=None, description="Lowest verified discount fraction (Deal.score), 0..1.")
    near: NearInput | None = strawberry.field(default=None, description="Only deals within this circle.")
    keywords: list[str] | None = strawberry.field(
        default=None, description=f"Words the title or merchant must all contain (case-insensitive), at most "
                                  f"{MAX_KEYWORDS} of at most {MAX_KEYWORD_LENGTH} characters.")
    delivery: Delivery = strawberry.field(default=Delivery.INSTANT, description="Now, or one hourly or daily digest.")
    max_per_day: int | None = strawberry.field(
        default=None, description="Most instant alerts per UTC day; the rest arrive in a digest at midnight.")
    quiet_hours: QuietHoursInput | None = strawberry.field(
        default=None, description="No instant alerts then; they arrive in one digest when the quiet hours end.")


@dataclass(frozen=True, slots=True)
class SavedInterest:
    """A validated interest, in the column order of `interests_by_user` (graphql_api.repository)."""

    user_id: int
    interest_id: str
    category: str | None
    max_price: float | None
    min_discount: float | None
    min_verified_discount: float | None
    near: tuple[float, float, float] | None
    keywords: tuple[str, ...]
    delivery: str
    max_per_day: int | None
    quiet_hours: tuple[int, int] | None

    @property
    def index_keys(self) -> list[str]:
        return interest_index_keys(self.category, self.near)

    def columns(self) -> tuple[Any, ...]:
        lat, lon, radius = self.near or (None, None, None)
        start, end = self.quiet_hours or (None, None)
        return (self.user_id, self.interest_id, self.category, self.max_price, self.min_discount,
                self.min_verified_discount, lat, lon, radius, list(self.keywords) or None, self.delivery,
                self.max_per_day, start, end)


def _bounded(value: float | None, field: str, low: float, high: float) -> float | None:
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise InvalidInput(field, f"must be between {low:g} and {high:g}, found {value!r}")
    return value


def _near(near: NearInput | None, settings: Settings) -> tuple[float, float, float] | None:
    if near is None:
        return None
    lat = _bounded(near.lat, "input.near.lat", -90.0, 90.0)
    lon = _bounded(near.lon, "input.near.lon", -180.0, 180.0)
    radius = _bounded(near.radius_km, "input.near.radiusKm", 0.0, settings.api_max_radius_km)
    assert lat is not None and lon is not None and radius is not None
    if not radius:
        raise InvalidInput("input.near.radiusKm", f"must be above 0, found {near.radius_km!r}")
    cells = len(cells_covering(lat, lon, radius))
    if cells > settings.api_max_near_cells:
        raise InvalidInput("input.near", f"a {radius:g} km circle at latitude {lat:g} covers {cells} map cells; "
                                         f"at most {settings.api_max_near_cells}: use a smaller radius")
    return lat, lon, radius


def _keywords(words: list[str] | None) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(w.strip().lower() for w in words or [] if w.strip()))
    if len(cleaned) > MAX_KEYWORDS:
        raise InvalidInput("input.keywords", f"at most {MAX_KEYWORDS} keywords, found {len(cleaned)}")
    for word in cleaned:
        if len(word) > MAX_KEYWORD_LENGTH:
            raise InvalidInput("input.keywords", f"a keyword has at most {MAX_KEYWORD_LENGTH} characters, "
                                                 f"found {len(word)}")
    return cleaned


def _quiet(quiet: QuietHoursInput | None) -> tuple[int, int] | None:
    if quiet is None:
        return None
    for name, hour in (("startHour", quiet.start_hour), ("endHour", quiet.end_hour)):
        if not 0 <= hour <= 23:
            raise InvalidInput(f"input.quietHours.{name}", f"must be an hour 0..23 (UTC), found {hour}")
    return quiet.start_hour, quiet.end_hour


def parse_interest_id(raw: str, *, field: str) -> str:
    try:
        return uuid.UUID(str(raw)).hex
    except ValueError as exc:
        raise InvalidInput(field, f"not an interest id, found {str(raw)[:40]!r}") from exc


def parse_interest(data: InterestInput, user_id: int, settings: Settings) -> SavedInterest:
    """Check every criterion; a new interest gets a fresh id."""
    category = None if data.category is None else parse_category(data.category, field="input.category")
    near = _near(data.near, settings)
    if category is None and near is None:
        raise InvalidInput("input", "an interest needs a category or near (alerts are matched by place or category)")
    max_per_day = data.max_per_day
    if max_per_day is not None and not 1 <= max_per_day <= MAX_PER_DAY:
        raise InvalidInput("input.maxPerDay", f"must be between 1 and {MAX_PER_DAY}, found {max_per_day}")
    keywords = _keywords(data.keywords)
    if sum(map(len, keywords)) > MAX_TEXT_LENGTH:
        raise InvalidInput("input.keywords", f"at most {MAX_TEXT_LENGTH} characters together")
    return SavedInterest(
        user_id=user_id,
        interest_id=uuid.uuid4().hex if data.id is None else parse_interest_id(data.id, field="input.id"),
        category=category, max_price=_bounded(data.max_price, "input.maxPrice", 0.0, 1e12),
        min_discount=_bounded(data.min_discount, "input.minDiscount", 0.0, 1.0),
        min_verified_discount=_bounded(data.min_verified_discount, "input.minVerifiedDiscount", 0.0, 1.0),
        near=near, keywords=keywords, delivery=data.delivery.value, max_per_day=max_per_day,
        quiet_hours=_quiet(data.quiet_hours))


@strawberry.type(description="A circle on the map.")
class Circle:
    center: Location = strawberry.field(description="Its centre.")
    radius_km: float = strawberry.field(description="Its radius in km.")


@strawberry.type(description="Quiet hours (UTC).")
class QuietHours:
    start_hour: int = strawberry.field(description="First quiet hour (UTC).")
    end_hour: int = strawberry.field(description="First hour alerts may come again (UTC).")


@strawberry.type(description="A saved interest of the signed-in user.")
class Interest:
    id: strawberry.ID = strawberry.field(description="Pass as `input.id` to replace it, or to deleteInterest.")
    category: str | None = strawberry.field(description="Category slug; a parent includes its children.")
    max_price: float | None = strawberry.field(description="Highest price, inclusive.")
    min_discount: float | None = strawberry.field(description="Lowest discount fraction.")
    min_verified_discount: float | None = strawberry.field(description="Lowest verified discount fraction.")
    near: Circle | None = strawberry.field(description="Only deals within this circle.")
    keywords: list[str] = strawberry.field(description="Words the title or merchant must all contain.")
    delivery: Delivery = strawberry.field(description="Now, or one hourly or daily digest.")
    max_per_day: int | None = strawberry.field(description="Most instant alerts per UTC day.")
    quiet_hours: QuietHours | None = strawberry.field(description="Hours without instant alerts (UTC).")

    @classmethod
    def from_row(cls, row: Row) -> Interest:
        near = None if row["near_lat"] is None else Circle(
            center=Location(latitude=row["near_lat"], longitude=row["near_lon"], geohash=None),
            radius_km=row["near_radius_km"])
        quiet = None if row["quiet_start_hour"] is None else QuietHours(
            start_hour=row["quiet_start_hour"], end_hour=row["quiet_end_hour"])
        return cls(id=strawberry.ID(row["interest_id"]), category=row["category"], max_price=row["max_price"],
                   min_discount=row["min_discount"], min_verified_discount=row["min_verified_discount"], near=near,
                   keywords=list(row["keywords"] or []), delivery=Delivery(row["delivery"]),
                   max_per_day=row["max_per_day"], quiet_hours=quiet)
