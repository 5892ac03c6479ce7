"""Alert types: one alert, a page of them (`viewer.alerts`) and a notice pushed by `dealAlerts`.

An alert's cursor is its place in the user's alerts: (delivery time, alert id), base64url JSON.
"""
from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import orjson
import strawberry

from graphql_api.convert import utc
from graphql_api.errors import InvalidInput
from graphql_api.repository import Row

AlertPosition = tuple[int, str]  # (deliver_at in epoch ms, alert id)


def encode_alert_cursor(position: AlertPosition) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def decode_alert_cursor(cursor: str, *, field: str = "after") -> AlertPosition:
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(field, "not an alert cursor returned by this API") from exc
    if not (isinstance(decoded, list) and len(decoded) == 2 and type(decoded[0]) is int
            and 0 <= decoded[0] < 2**53 and isinstance(decoded[1], str) and len(decoded[1]) <= 64):
        raise InvalidInput(field, "not an alert cursor returned by this API")
    return decoded[0], decoded[1]


def position_of(row: Row) -> AlertPosition:
    return round(utc(row["deliver_at"]).timestamp() * 1000), row["alert_id"]


def moment_of(position: AlertPosition) -> datetime:
    return datetime.fromtimestamp(position[0] / 1000, tz=UTC)


@strawberry.type(description="A deal that matched one of the user's interests, and why.")
class DealAlert:
    id: strawberry.ID = strawberry.field(description="Stable: the same user, interest, deal and version.")
    cursor: str = strawberry.field(description="Pass as `after` to resume after this alert.")
    interest_id: strawberry.ID = strawberry.field(description="The interest it matched.")
    deal_id: strawberry.ID = strawberry.field(description="The deal.")
    kind: str = strawberry.field(description="NEW_MATCH, or PRICE_DROP: a further drop on an alerted deal.")
    reason: str = strawberry.field(description="Why it fired, one clause per criterion of the interest.")
    delivery: str = strawberry.field(
        description="INSTANT, HOURLY_DIGEST, DAILY_DIGEST, QUIET_HOURS_DIGEST or DAILY_CAP_DIGEST.")
    digest_id: str | None = strawberry.field(description="The digest it arrives in; null when instant.")
    deliver_at: datetime = strawberry.field(description="When it is (or was) delivered (UTC).")
    alert_at: datetime = strawberry.field(description="When the platform received the deal version (UTC).")
    title: str | None = strawberry.field(description="The deal's title.")
    price: float | None = strawberry.field(description="The price it alerted on.")
    previous_price: float | None = strawberry.field(description="The price last alerted on (PRICE_DROP).")
    discount_pct: float | None = strawberry.field(description="Its discount fraction.")
    category: str | None = strawberry.field(description="Its category slug.")
    merchant_name: str | None = strawberry.field(description="Who sells it.")
    distance_km: float | None = strawberry.field(description="From the interest's place (interests with near).")

    @classmethod
    def from_row(cls, row: Row) -> DealAlert:
        return cls(id=strawberry.ID(row["alert_id"]), cursor=encode_alert_cursor(position_of(row)),
                   interest_id=strawberry.ID(row["interest_id"]), deal_id=strawberry.ID(str(row["deal_id"])),
                   kind=row["kind"], reason=row["reason"], delivery=row["delivery"], digest_id=row["digest_id"],
                   deliver_at=utc(row["deliver_at"]), alert_at=utc(row["alert_at"]), title=row["title"],
                   price=row["price"], previous_price=row["previous_price"], discount_pct=row["discount_pct"],
                   category=row["category_slug"], merchant_name=row["merchant_name"], distance_km=row["distance_km"])


@strawberry.type(description="A page of the user's alerts, newest first.")
class AlertPage:
    nodes: list[DealAlert] = strawberry.field(description="The alerts of this page, newest first.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next (older) page.")
    has_next_page: bool = strawberry.field(description="True when older alerts follow `endCursor`.")


@strawberry.type(description="What `dealAlerts` pushes: one instant alert, or one digest of several.")
class AlertNotice:
    cursor: str = strawberry.field(description="Pass as `dealAlerts(after:)` to resume after this notice.")
    digest_id: str | None = strawberry.field(description="Null for an instant alert.")
    deliver_at: datetime = strawberry.field(description="When it was due (UTC).")
    alerts: list[DealAlert] = strawberry.field(description="One alert, or every alert of the digest.")
