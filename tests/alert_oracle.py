"""Independent plain-Python statement of the alerts the platform must raise, from the documented rules
(README "Interest alerts", pipeline/alert_delivery.py's docstring), never from the Spark code.

Input: the deal records in the order they were produced, each with its Kafka timestamp, and the
saved interests. Output: one dict per alert, keyed by (user, interest, deal, version time).
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from tests import expected

EARTH_KM = 6371.0088
Key = tuple[int, str, int, datetime]


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def matches(interest: dict[str, Any], deal: dict[str, Any], verified: float | None) -> bool:
    cat = interest.get("category")
    if cat is not None and cat not in (deal["category_slug"], deal["parent_category"]):
        return False
    if interest.get("max_price") is not None and deal["price"] > interest["max_price"]:
        return False
    if interest.get("min_discount") is not None and deal["discount_pct"] < interest["min_discount"]:
        return False
    if interest.get("min_verified_discount") is not None and (verified is None
                                                              or verified < interest["min_verified_discount"]):
        return False
    near = interest.get("near")
    if near is not None and (deal["latitude"] is None or distance_km(
            near[0], near[1], deal["latitude"], deal["longitude"]) > near[2]):
        return False
    text = " ".join(t for t in (deal["title"], deal["merchant_name"]) if t).lower()
    if not all(word in text for word in interest.get("keywords") or ()):
        return False
    expires = deal["expires_at"]
    return expires is None or expires > deal["updated_at"]


def _quiet(interest: dict[str, Any], moment: datetime) -> bool:
    quiet = interest.get("quiet_hours")
    if not quiet or quiet[0] == quiet[1]:
        return False
    start, end = quiet
    return start <= moment.hour < end if start < end else moment.hour >= start or moment.hour < end


def _quiet_end_after(interest: dict[str, Any], moment: datetime) -> datetime:
    end = moment.replace(hour=interest["quiet_hours"][1], minute=0, second=0, microsecond=0)
    return end if end > moment else end + timedelta(days=1)


def _next_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def _later_out_of_quiet(interest: dict[str, Any], due: datetime) -> datetime:
    return _quiet_end_after(interest, due) if _quiet(interest, due) else due


def fired(records: list[tuple[dict[str, Any], datetime]], interests: list[dict[str, Any]],
          scores: dict[tuple[int, datetime], float] | None = None) -> dict[Key, dict[str, Any]]:
    """Every alert: the first match of a pair, then each price below the last alerted price."""
    first_seen: dict[tuple[int, str], tuple[dict[str, Any], datetime]] = {}
    for raw, at in records:
        first_seen.setdefault((raw["id"], raw["updated_at"]), (expected.deal_row(raw), at))
    by_deal: dict[int, list[tuple[dict[str, Any], datetime]]] = defaultdict(list)
    for row, at in first_seen.values():
        by_deal[row["deal_id"]].append((row, at))
    alerts: dict[Key, dict[str, Any]] = {}
    for interest in interests:
        for versions in by_deal.values():
            last: float | None = None
            for row, at in sorted(versions, key=lambda v: v[0]["updated_at"]):
                updated = row["updated_at"].replace(tzinfo=UTC)
                if not matches(interest, row, (scores or {}).get((row["deal_id"], updated))):
                    continue
                if last is None or row["price"] < last:
                    key = (interest["user_id"], interest["interest_id"], row["deal_id"], updated)
                    alerts[key] = {"kind": "NEW_MATCH" if last is None else "PRICE_DROP", "price": row["price"],
                                   "previous_price": last, "alert_at": at, "interest": interest}
                    last = row["price"]
    return alerts


def with_delivery(alerts: dict[Key, dict[str, Any]]) -> dict[Key, tuple[str, datetime]]:
    """(delivery, deliver_at) of each alert, by the rules of the README."""
    decided: dict[Key, tuple[str, datetime]] = {}
    instant_today: dict[tuple[str, Any], int] = defaultdict(int)
    for key, alert in sorted(alerts.items(), key=lambda kv: kv[1]["alert_at"]):
        interest, at = alert["interest"], alert["alert_at"]
        mode = interest.get("delivery", "INSTANT")
        if mode == "HOURLY":
            due = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            decided[key] = ("HOURLY_DIGEST", _later_out_of_quiet(interest, due))
        elif mode == "DAILY":
            decided[key] = ("DAILY_DIGEST", _later_out_of_quiet(interest, _next_day(at)))
        elif _quiet(interest, at):
            decided[key] = ("QUIET_HOURS_DIGEST", _quiet_end_after(interest, at))
        else:
            instant_today[(interest["interest_id"], at.date())] += 1
            cap = interest.get("max_per_day")
            if cap is None or instant_today[(interest["interest_id"], at.date())] <= cap:
                decided[key] = ("INSTANT", at)
            else:
                decided[key] = ("DAILY_CAP_DIGEST", _later_out_of_quiet(interest, _next_day(at)))
    return decided
