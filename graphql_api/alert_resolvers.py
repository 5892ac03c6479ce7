"""Resolvers of interests and alerts: `saveInterest`, `deleteInterest`, `viewer { interests alerts }`
and `subscription { dealAlerts }`. Every read and write is bound to the token's user: no argument
names a user, so nobody can read, change or subscribe to another user's interests or alerts.

`dealAlerts` polls the user's partition of `alerts_by_user` every EXS_ALERT_POLL_S for alerts whose
delivery time has come: instant ones as they are written, a digest (all alerts with one digest id)
when it is due. It re-reads EXS_ALERT_LOOKBACK_S (10 min) back, because an alert is timed by its deal's
Kafka record and written only after the pipeline's lag (a second or two; a minute on a busy two-core
machine or after a restart), and alerts of several partitions out of their time order; it remembers the
ids it pushed, so none is pushed twice. `after` (a notice's or an alert's cursor) resumes after the last
one a client saw, across reconnects and API restarts: the alerts are in Cassandra, not in this process.
"""
from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql_api.alerts import (
    AlertNotice,
    AlertPage,
    AlertPosition,
    DealAlert,
    decode_alert_cursor,
    encode_alert_cursor,
    moment_of,
    position_of,
)
from graphql_api.context import Context
from graphql_api.errors import InvalidInput
from graphql_api.inputs import parse_first
from graphql_api.interests import Interest, InterestInput, parse_interest, parse_interest_id
from graphql_api.repository import Row

TIE_SLACK = 100  # rows more than a page read for alerts sharing the cursor's delivery time
INTEREST_COLUMNS = ("user_id", "interest_id", "category", "max_price", "min_discount", "min_verified_discount",
                    "near_lat", "near_lon", "near_radius_km", "keywords", "delivery", "max_per_day",
                    "quiet_start_hour", "quiet_end_hour")


async def interests(info: Info[Context, None]) -> list[Interest]:
    ctx = info.context
    rows = await ctx.repository.interests(ctx.signed_in().user_id, limit=ctx.settings.alert_max_interests_per_user)
    return [Interest.from_row(row) for row in rows]


async def alerts(
    info: Info[Context, None],
    first: Annotated[int, strawberry.argument(description="How many alerts, 1..100.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="A cursor: older alerts than it.")] = None,
) -> AlertPage:
    """Delivered alerts, newest first (digest members once their digest is due)."""
    size, ctx = parse_first(first), info.context
    position = None if after is None else decode_alert_cursor(after)
    until = datetime.now(UTC) if position is None else min(moment_of(position), datetime.now(UTC))
    rows = await ctx.repository.alerts_until(ctx.signed_in().user_id, until, limit=size + 1 + TIE_SLACK)
    if position is not None:  # ties at the cursor's time come in id order: skip those up to it
        rows = [r for r in rows if position_of(r)[0] < position[0] or position_of(r)[1] > position[1]]
    nodes = [DealAlert.from_row(row) for row in rows[:size]]
    return AlertPage(nodes=nodes, end_cursor=nodes[-1].cursor if nodes else None, has_next_page=len(rows) > size)


def _notices(rows: list[Row]) -> list[AlertNotice]:
    """Rows in delivery order, grouped: one notice per instant alert, one per digest."""
    groups: dict[str, list[Row]] = {}
    for row in sorted(rows, key=position_of):
        groups.setdefault(row["digest_id"] or row["alert_id"], []).append(row)
    return [AlertNotice(cursor=encode_alert_cursor(position_of(members[-1])), digest_id=members[0]["digest_id"],
                        deliver_at=DealAlert.from_row(members[0]).deliver_at,
                        alerts=[DealAlert.from_row(row) for row in members]) for members in groups.values()]


@strawberry.type(description="Live alerts over graphql-transport-ws (token in connection_init).")
class AlertSubscription:
    @strawberry.subscription(description="The signed-in user's alerts as they are delivered: each instant alert, "
                                         "each digest when due. `after` resumes after a notice already seen.")
    async def deal_alerts(
        self, info: Info[Context, None],
        after: Annotated[str | None, strawberry.argument(description="Resume after this cursor.")] = None,
    ) -> AsyncGenerator[AlertNotice, None]:
        ctx = info.context
        user_id, settings = ctx.signed_in().user_id, ctx.settings
        floor: AlertPosition = decode_alert_cursor(after) if after is not None else (
            round(datetime.now(UTC).timestamp() * 1000), "")
        seen: dict[str, AlertPosition] = {}
        async with ctx.feeds.slot():
            while True:
                now = datetime.now(UTC)
                since = max(moment_of(floor), now - timedelta(seconds=settings.alert_lookback_s))
                rows = await ctx.repository.alerts_between(user_id, since, now)
                fresh = [r for r in rows if r["alert_id"] not in seen and position_of(r) > floor]
                for notice in _notices(fresh):
                    yield notice
                seen.update((r["alert_id"], position_of(r)) for r in fresh)
                oldest = int(since.timestamp() * 1000)
                seen = {alert_id: pos for alert_id, pos in seen.items() if pos[0] >= oldest}
                await asyncio.sleep(settings.alert_poll_s)


MAX_URL_LENGTH = 500


@strawberry.type(description="Where the user's alerts are posted, and the key that signs them.")
class Webhook:
    url: str = strawberry.field(description="Alerts are POSTed here as JSON, one request per notice.")
    secret: str = strawberry.field(
        description="HMAC-SHA256 key of the X-Exstreamly-Signature header (t=<unix s>,v1=<hex of '<t>.<body>'>); "
                    "shown only now, a new one each time the webhook is set.")


def parse_webhook_url(url: str) -> str:
    text = url.strip()
    if len(text) > MAX_URL_LENGTH or not text.lower().startswith(("https://", "http://")):
        raise InvalidInput("url", f"an http(s) URL of at most {MAX_URL_LENGTH} characters, found {text[:60]!r}")
    return text


@strawberry.type(description="Changes to the signed-in user's own data (needs a bearer token).")
class Mutation:
    @strawberry.mutation(description="Post your alerts to this URL (signed, retried with backoff); null removes it.")
    async def set_webhook(
        self, info: Info[Context, None],
        url: Annotated[str | None, strawberry.argument(description="An http(s) URL, or null.")],
    ) -> Webhook | None:
        ctx = info.context
        viewer = ctx.signed_in()
        if url is None:
            await ctx.repository.set_webhook(viewer.user_id, None, None, datetime.now(UTC))
            return None
        hook = Webhook(url=parse_webhook_url(url), secret=secrets.token_urlsafe(32))
        await ctx.repository.set_webhook(viewer.user_id, hook.url, hook.secret, datetime.now(UTC))
        return hook

    @strawberry.mutation(description="Save an interest (new, or replacing `input.id`); alerts follow within "
                                     "seconds for new or changed deals that match it.")
    async def save_interest(
        self, info: Info[Context, None],
        input: Annotated[InterestInput, strawberry.argument(description="The criteria and how to deliver.")],
    ) -> Interest:
        ctx = info.context
        viewer, bound = ctx.signed_in(), ctx.settings.alert_max_interests_per_user
        interest = parse_interest(input, viewer.user_id, ctx.settings)
        existing = await ctx.repository.interests(viewer.user_id, limit=bound + 1)
        old = next((r for r in existing if r["interest_id"] == interest.interest_id), None)
        if input.id is not None and old is None:
            raise InvalidInput("input.id", "you have no interest with this id")
        if old is None and len(existing) >= bound:
            raise InvalidInput("input", f"at most {bound} interests per user; delete one first")
        previous_keys = (old["index_keys"] or []) if old else None
        await ctx.repository.save_interest(interest.columns(), interest.index_keys, previous_keys, datetime.now(UTC))
        return Interest.from_row(dict(zip(INTEREST_COLUMNS, interest.columns(), strict=True)))

    @strawberry.mutation(description="Delete one of your interests; true when it existed.")
    async def delete_interest(
        self, info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The interest's id.")],
    ) -> bool:
        ctx = info.context
        viewer, interest_id = ctx.signed_in(), parse_interest_id(id, field="id")
        existing = await ctx.repository.interests(viewer.user_id, limit=ctx.settings.alert_max_interests_per_user + 1)
        old = next((r for r in existing if r["interest_id"] == interest_id), None)
        if old is None:
            return False
        await ctx.repository.delete_interest(viewer.user_id, interest_id, list(old["index_keys"] or []))
        return True
