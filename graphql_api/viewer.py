"""`viewer`: the signed-in user's own data. There is no argument naming a user: the token is the user.

`purchases` reads the user's partitions of `purchases_by_user` (one per month), newest month first,
for at most HISTORY_MONTHS months; another user's rows can never be asked for.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql_api import alert_resolvers
from graphql_api.activity import purchase_fields
from graphql_api.alerts import AlertPage
from graphql_api.auth import Role
from graphql_api.context import Context
from graphql_api.convert import HISTORY_MONTHS, months_back
from graphql_api.inputs import NearInput, parse_first
from graphql_api.interests import Interest
from graphql_api.recommendations import DEFAULT_FIRST, Recommendation, for_user
from graphql_api.repository import Row

ViewerRole = strawberry.enum(Role, name="Role", description="What a token allows.")


@strawberry.type(description="A purchase of the signed-in user.")
class OwnPurchase:
    id: strawberry.ID = strawberry.field(description="The event id.")
    at: datetime = strawberry.field(description="When it was bought (UTC).")
    deal_id: strawberry.ID = strawberry.field(description="The deal bought.")
    deal_title: str | None = strawberry.field(description="Its title when bought.")
    category: str = strawberry.field(description="Its category slug.")
    merchant_name: str | None = strawberry.field(description="Who sells it.")
    quantity: int = strawberry.field(description="Units bought.")
    amount: float = strawberry.field(description="Price x quantity.")

    @classmethod
    def from_row(cls, row: Row) -> OwnPurchase:
        return cls(**purchase_fields(row))


@strawberry.type(name="Viewer", description="The signed-in user (from the bearer token).")
class SignedInUser:
    user_id: strawberry.ID = strawberry.field(description="The user's id.")
    # strawberry.enum(Role) returns the same class at run time, but mypy sees a call's value, not a type
    role: ViewerRole = strawberry.field(description="What the token allows.")  # type: ignore[valid-type]
    # issue 14: the user's saved interests and delivered alerts
    interests: list[Interest] = strawberry.field(resolver=alert_resolvers.interests,
                                                 description="The user's saved interests.")
    alerts: AlertPage = strawberry.field(resolver=alert_resolvers.alerts,
                                         description="The user's delivered alerts, newest first.")

    @strawberry.field(description=f"The user's own purchases, newest first (the last {HISTORY_MONTHS} months).")
    async def purchases(
        self, info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description="How many purchases, 1..100.")] = 20,
    ) -> list[OwnPurchase]:
        size, viewer = parse_first(first), info.context.signed_in()
        found: list[OwnPurchase] = []
        for month in months_back(datetime.now(UTC), HISTORY_MONTHS):
            rows = await info.context.repository.user_purchases(viewer.user_id, month, limit=size - len(found))
            found += [OwnPurchase.from_row(row) for row in rows]
            if len(found) >= size:
                break
        return found

    @strawberry.field(description="Deals recommended to the user, best first: the newest training's list with "
                                  "expired and bought deals dropped and moved prices re-ranked, filled from near "
                                  "`near` (else the user's home) when short.")
    async def recommendations(
        self, info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description="How many, 1..100.")] = DEFAULT_FIRST,
        near: Annotated[NearInput | None, strawberry.argument(
            description="Fill from near this point (and radius) instead of the user's home.")] = None,
    ) -> list[Recommendation]:
        return await for_user(info.context, info.context.signed_in().user_id, first, near)


def viewer(info: Info[Context, None]) -> SignedInUser | None:
    """The signed-in user; null without a token."""
    signed_in = info.context.viewer
    if signed_in is None:
        return None
    return SignedInUser(user_id=strawberry.ID(str(signed_in.user_id)), role=signed_in.role)
