"""The cost budget of one request: the CQL reads a document may cause, estimated before execution.

Depth, alias and token limits bound each field; the budget bounds their product. The estimate walks
the operation (fragments included) with its variables and adds, for each field, its worst-case reads
times the number of objects it is resolved on: `deals` costs the pages its search may read
(`search.read_bound`: partitions x doubling pages, or the cells of `near`) and multiplies what is
selected on its deals by `first`; a deal listed by a search costs one more read when a field
beyond the listing columns is asked for; 15 aliases cost 15 times. An estimate over
`EXS_API_MAX_COST` is refused before any resolver runs, naming the budget and the cost.

Arguments that fail validation cost nothing here: their resolver refuses them with its own message.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_argument_values,
    get_named_type,
    get_operation_ast,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import VariableValues, get_variable_values
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from conf.settings import Settings
from graphql_api.activity import TREND_BUCKETS, BBoxInput, TrendWindow
from graphql_api.deal import SUMMARY_FIELDS
from graphql_api.errors import InvalidInput, OverBudget
from graphql_api.inputs import MAX_PAGE_SIZE, DealFilter, DealSort, NearInput, parse_deal_query
from graphql_api.search import read_bound, stream_reads
from pipeline.cells import cells_covering
from pipeline.taxonomy import CHILDREN, PARENT_OF, PARENTS

#: Most children of one top-level category (what `children` fans out to).
MAX_CHILDREN = max(sum(1 for c in CHILDREN if PARENT_OF[c] == p) for p in PARENTS)
#: Minute partitions `purchaseFeed` may read back; months `viewer.purchases` may read back.
FEED_READS, HISTORY_READS = 10, 3
#: Partitions of popular_deals_by_area the recommendation fill reads: the point's area and its 8 neighbours.
AREA_READS = 9
MAP_HOURS = 2  # activityMap falls back to the previous hour when the current one is empty
MAP_TABLES = 2  # activity_by_cell and ratings_by_cell (issue 18), one read of each per region and hour
SECONDS_PER_MINUTE = 60
DEAL = "Deal"


@dataclass(frozen=True, slots=True)
class FieldCost:
    """What one field costs on one object, and how many objects its selection set is resolved on."""

    reads: int = 0
    fanout: int = 1
    listing: bool = False  # its Deal objects are search listing rows (more fields: one read each)


Rule = Callable[[dict[str, Any], Settings], FieldCost]
FREE = FieldCost()


def _first(args: dict[str, Any], default: int = 20) -> int:
    """`first` clamped to the page bounds (an out-of-range one is refused by its resolver)."""
    value = args.get("first", default)
    return min(max(int(value), 1), MAX_PAGE_SIZE) if isinstance(value, int) else default


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _deal_filter(raw: dict[str, Any] | None) -> DealFilter | None:
    if raw is None:
        return None
    values = {_snake(k): v for k, v in raw.items()}
    near = values.get("near")
    if near is not None:
        values["near"] = NearInput(**{_snake(k): v for k, v in near.items()})
    return DealFilter(**values)


def _deals(args: dict[str, Any], settings: Settings) -> FieldCost:
    try:
        query = parse_deal_query(_deal_filter(args.get("filter")), args.get("sort", DealSort.BEST_DISCOUNT),
                                 args.get("first", 20), args.get("after"), settings)
    except InvalidInput:
        return FieldCost(fanout=0)
    if query.sort is DealSort.BEST_RATED:
        # the category's rating partition, the priors of its children, then each deal of the page in full
        return FieldCost(1 + 1 + MAX_CHILDREN + query.first, query.first)
    return FieldCost(read_bound(query, settings.api_scan_limit), query.first, listing=True)


def _merchants(args: dict[str, Any], settings: Settings) -> FieldCost:
    first = _first(args)
    return FieldCost(stream_reads(first + 1, settings.api_scan_limit), first)


def _trending(args: dict[str, Any], _settings: Settings) -> FieldCost:
    window = args.get("window", TrendWindow.ONE_MINUTE)
    return FieldCost(TREND_BUCKETS[window][1] if window in TREND_BUCKETS else 0, _first(args, 10))


def _sales_timeline(args: dict[str, Any], _settings: Settings) -> FieldCost:
    last = args.get("last", 60)
    seconds = min(max(last, 1), 300) if isinstance(last, int) else 60
    return FieldCost(math.ceil(seconds / SECONDS_PER_MINUTE) + 1, seconds)


def _activity_map(args: dict[str, Any], _settings: Settings) -> FieldCost:
    from graphql_api.activity_resolvers import regions_covering

    box = args.get("bbox") or {}
    try:
        regions = regions_covering(BBoxInput(**box))
    except (InvalidInput, TypeError, ValueError):
        return FieldCost(fanout=0)
    return FieldCost(MAP_HOURS * MAP_TABLES * len(regions))


def _first_reviews(args: dict[str, Any]) -> int:
    return _first(args, 10)


def _recommendations(args: dict[str, Any], settings: Settings, *, signed_in: bool) -> FieldCost:
    """The fill (area + 8 neighbours, the circle's cells) and a deal read per listed deal; signed in, also
    the stored list, its deals and the purchase months."""
    from graphql_api.recommendations import FILL_LOADS, fallback_cells

    first, near = _first(args, 10), args.get("near")
    cells = fallback_cells(settings)
    if isinstance(near, dict):
        try:
            cells = len(cells_covering(float(near["lat"]), float(near["lon"]), float(near["radiusKm"])))
        except (KeyError, TypeError, ValueError):
            return FieldCost(fanout=0)
        if cells > settings.api_max_near_cells:
            return FieldCost(fanout=0)  # refused by its resolver
    fill = AREA_READS + cells + FILL_LOADS * first
    stored = 1 + HISTORY_READS + settings.recommend_top_n if signed_in else 0
    return FieldCost(fill + stored, first)


def _fixed(reads: int, fanout: Callable[[dict[str, Any]], int] = lambda _args: 1) -> Rule:
    return lambda args, _settings: FieldCost(reads, fanout(args))


RULES: dict[tuple[str, str], Rule] = {
    ("Query", "deal"): _fixed(1),
    ("Query", "deals"): _deals,
    ("Query", "categories"): _fixed(0, lambda _args: len(PARENTS)),
    ("Query", "merchants"): _merchants,
    ("Query", "trending"): _trending,
    ("Query", "salesTimeline"): _sales_timeline,
    ("Query", "purchaseFeed"): _fixed(FEED_READS, _first),
    ("Query", "activityMap"): _activity_map,
    ("Query", "topSellers"): _fixed(1, lambda args: _first(args, 10)),
    ("Query", "deadLetters"): _fixed(1, _first),
    ("Query", "lateEvents"): _fixed(1, _first),
    ("Viewer", "purchases"): _fixed(HISTORY_READS, _first),
    ("Viewer", "recommendations"): lambda args, settings: _recommendations(args, settings, signed_in=True),
    ("Query", "recommendations"): lambda args, settings: _recommendations(args, settings, signed_in=False),
    ("Subscription", "trending"): _trending,
    ("Viewer", "interests"): _fixed(1),  # issue 14: one partition each
    ("Viewer", "alerts"): _fixed(1, _first),
    ("Mutation", "saveInterest"): _fixed(1),
    ("Mutation", "deleteInterest"): _fixed(1),
    ("Mutation", "setWebhook"): _fixed(1),
    ("Deal", "priceHistory"): _fixed(1),
    ("Category", "children"): _fixed(0, lambda _args: MAX_CHILDREN),
    ("Category", "dealCount"): _fixed(1),
    ("RankedMerchant", "liveUnitsToday"): _fixed(1),
    # reviews (issue 18): a rating row and its prior (a merchant overall: the top-level categories' priors)
    ("Deal", "rating"): _fixed(2),
    ("Deal", "reviews"): _fixed(1, _first_reviews),
    ("Merchant", "rating"): _fixed(1 + len(PARENTS)),
    ("Merchant", "latestReviews"): _fixed(1, _first_reviews),
    ("RankedMerchant", "rating"): _fixed(2),
}


class _Walk:
    """One estimate: the document's fragments, the coerced variables and the settings."""

    def __init__(self, document: DocumentNode, variables: VariableValues, settings: Settings) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables, self.settings = variables, settings

    def cost(self, parent: GraphQLObjectType, selections: SelectionSetNode, times: int, listing: bool) -> int:
        """Reads of `selections` resolved on `times` objects of type `parent`."""
        fields = list(self._fields(parent, selections))
        is_listed_deal = listing and parent.name == DEAL
        total = times if is_listed_deal and any(f.name.value not in SUMMARY_FIELDS for f in fields) else 0
        for node in fields:
            field_def = parent.fields.get(node.name.value)
            if field_def is None:
                continue  # __typename and introspection: no reads
            try:
                args = get_argument_values(field_def, node, self.variables)
            except GraphQLError:
                continue  # execution reports it
            rule = RULES.get((parent.name, node.name.value))
            spent = FREE if rule is None else rule(args, self.settings)
            total += spent.reads * times
            child = get_named_type(field_def.type)
            if node.selection_set is not None and isinstance(child, GraphQLObjectType):
                # connection wrappers (edges, nodes, node) pass on that their deals are listing rows
                listed = spent.listing or (listing and rule is None and parent.name != DEAL)
                total += self.cost(child, node.selection_set, times * spent.fanout, listed)
        return total

    def _fields(self, parent: GraphQLObjectType, selections: SelectionSetNode) -> Iterator[FieldNode]:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                if selection.type_condition is None or selection.type_condition.name.value == parent.name:
                    yield from self._fields(parent, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and fragment.type_condition.name.value == parent.name:
                    yield from self._fields(parent, fragment.selection_set)


def estimate_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                  variables: dict[str, Any] | None, settings: Settings) -> int:
    """The most CQL reads executing `document` may send (0 when it cannot run at all)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    root = schema.get_root_type(operation.operation)
    if isinstance(coerced, list) or root is None:
        return 0  # variables that do not coerce: execution answers with their errors
    return _Walk(document, coerced, settings).cost(root, operation.selection_set, 1, listing=False)


class CostBudget(SchemaExtension):
    """Refuse, before execution, a query or mutation whose estimated reads exceed the budget.

    A subscription has exactly one root field (GraphQL validation), whose reads per tick are shared."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and not context.result and context.operation_type is not OperationType.SUBSCRIPTION:
            cost = estimate_cost(context.schema._schema, document, context.operation_name, context.variables,
                                 self.settings)
            if cost > self.settings.api_max_cost:
                error = OverBudget(cost, self.settings.api_max_cost)
                context.result = GraphQLExecutionResult(data=None, errors=[GraphQLError(str(error),
                                                                                        original_error=error)])
        yield
