"""The root `Query` and the `strawberry.Schema`: assembly only, resolvers live in `resolvers.py`."""
from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from conf.settings import Settings
from graphql_api import resolvers
from graphql_api.deal import Deal
from graphql_api.extensions import is_unexpected, schema_extensions


@strawberry.type(description="Deals, categories and merchants of ExStreamly Cheap.")
class Query:
    deal: Deal | None = strawberry.field(
        resolver=resolvers.deal,
        description="One deal by id, with its merchant and price history; null when there is no such deal.")


class DealsSchema(strawberry.Schema):
    """Logs only unexpected errors (client mistakes and outages are answered, not logged as bugs)."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        super().process_errors([e for e in errors if is_unexpected(e)], execution_context)


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with the limits, caches and profile of `settings`."""
    return DealsSchema(query=Query, extensions=schema_extensions(settings))
