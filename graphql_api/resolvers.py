"""Resolvers of the root Query fields: validate arguments, read through the context, build types."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from graphql_api.context import Context
from graphql_api.deal import Deal
from graphql_api.inputs import parse_deal_id


async def deal(info: Info[Context, None], id: strawberry.ID) -> Deal | None:  # noqa: A002 - GraphQL name
    row = await info.context.deals.load(parse_deal_id(id, field="id"))
    return None if row is None else Deal.from_row(row)
