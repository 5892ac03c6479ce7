"""The root `Query` and the `strawberry.Schema`: assembly only, resolvers live in `resolvers.py`."""
from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from conf.settings import Settings
from graphql_api import activity_resolvers, alert_resolvers, operator, resolvers, viewer
from graphql_api.activity import ActivityMap, MerchantSales, Purchase, SalesSecond, TrendingCategory
from graphql_api.category import Category
from graphql_api.connection import DealConnection, MerchantConnection
from graphql_api.deal import Deal
from graphql_api.extensions import is_unexpected, schema_extensions
from graphql_api.operator import DeadLetter, LateEvent
from graphql_api.recommendations import Recommendation
from graphql_api.recommendations import recommendations as recommendations_near
from graphql_api.viewer import SignedInUser


@strawberry.type(description="Deals, categories and merchants of ExStreamly Cheap.")
class Query:
    deal: Deal | None = strawberry.field(
        resolver=resolvers.deal,
        description="One deal by id, with its merchant and price history; null when there is no such deal.")
    deals: DealConnection = strawberry.field(
        resolver=resolvers.deals,
        description="Search deals: filter by category, price, discount, place, online and text; sort; page "
                    "with `first` (at most 100) and `after`. Example: the best discounts in a category within "
                    "a price range.")
    categories: list[Category] = strawberry.field(
        resolver=resolvers.categories,
        description="The top-level categories, alphabetical; each lists its children and deal counts.")
    category: Category | None = strawberry.field(
        resolver=resolvers.category, description="One category by slug; null when unknown.")
    merchants: MerchantConnection = strawberry.field(
        resolver=resolvers.merchants,
        description="Merchants with deals in a category, ranked by units sold (best seller first).")
    trending: list[TrendingCategory] = strawberry.field(
        resolver=activity_resolvers.trending,
        description="Categories users interact with most in the last 10 s, minute or hour, by score.")
    sales_timeline: list[SalesSecond] = strawberry.field(
        resolver=activity_resolvers.sales_timeline,
        description="Purchases, units and revenue per second over the last `last` seconds, oldest first.")
    purchase_feed: list[Purchase] = strawberry.field(
        resolver=activity_resolvers.purchase_feed, description="The newest purchases, newest first.")
    activity_map: ActivityMap = strawberry.field(
        resolver=activity_resolvers.activity_map,
        description="Where users are active this hour: geohash cells in a box, only cells with enough "
                    "distinct users to stay anonymous.")
    top_sellers: list[MerchantSales] = strawberry.field(
        resolver=activity_resolvers.top_sellers,
        description="Merchants of a category ranked by what platform users bought today (UTC), live.")
    viewer: SignedInUser | None = strawberry.field(
        resolver=viewer.viewer,
        description="The signed-in user's own data (send `Authorization: Bearer <token>`); null without a token.")
    dead_letters: list[DeadLetter] = strawberry.field(
        resolver=operator.dead_letters,
        description="Operators only: malformed records received on one UTC day, newest first, with the reason.")
    recommendations: list[Recommendation] = strawberry.field(
        resolver=recommendations_near,
        description="Trending near a point, for anyone: deals popular with the people of the area, then new "
                    "deals nearby. Signed-in users get their own list from `viewer { recommendations }`.")
    late_events: list[LateEvent] = strawberry.field(
        resolver=operator.late_events,
        description="Operators only: events of one UTC day that arrived too late to be counted, newest first.")


class DealsSchema(strawberry.Schema):
    """Logs only unexpected errors (client mistakes and outages are answered, not logged as bugs)."""

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        super().process_errors([e for e in errors if is_unexpected(e)], execution_context)


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with the limits, caches and profile of `settings`."""
    return DealsSchema(query=Query, mutation=alert_resolvers.Mutation, subscription=Subscription,
                       extensions=schema_extensions(settings))


# issue 14: dealAlerts beside the activity subscriptions
@strawberry.type(name="Subscription", description="Live updates over graphql-transport-ws.")
class Subscription(activity_resolvers.Subscription, alert_resolvers.AlertSubscription):
    """`trending` (activity) and `dealAlerts` (issue 14)."""
