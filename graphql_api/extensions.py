"""Schema extensions: limits, caches and error masking, built once per schema from settings.

Every entry is a factory (a fresh extension per request). The validation rules are created once,
so the rule tuple is the same object on every request and ValidationCache can hit.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import StreamExecutionResult

from conf.settings import Settings
from graphql_api.cost import CostBudget
from graphql_api.errors import ApiError

log = logging.getLogger(__name__)
CACHE_SIZE = 256
UNEXPECTED = "Unexpected error."


#: graphql-core's "Did you mean 'title'?": a map of the schema for whoever probes a production API.
SUGGESTION = re.compile(r" Did you mean .+\?$")


def is_unexpected(error: GraphQLError) -> bool:
    """Something other than an ApiError or GraphQL's own checks failed: hide it from the client.

    A GraphQLError as the original is graphql-core judging the request (a variable that does not
    coerce, such as an Int over 2^31 or NaN): the client's mistake, answered with its message."""
    original = error.original_error
    return original is not None and not isinstance(original, ApiError | GraphQLError)


def error_code(error: GraphQLError) -> str:
    """The `extensions.code` of an error: whose mistake it is, in Apollo's vocabulary."""
    original = error.original_error
    if isinstance(original, ApiError):
        return original.code
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if is_unexpected(error) or error.path is not None:
        return "INTERNAL_SERVER_ERROR"
    if isinstance(original, GraphQLError):
        return "BAD_USER_INPUT"  # a variable's value did not coerce to its type
    return "GRAPHQL_VALIDATION_FAILED"


class ErrorCodes(SchemaExtension):
    """Tag errors with `extensions.code`; in production, drop graphql-core's field suggestions."""

    def __init__(self, *, hide_suggestions: bool) -> None:
        self.hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [self._tagged(error) for error in errors]

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # a subscription's results are sent while this hook is open: tag them on the way in
        errors = getattr(result, "errors", None)  # incremental results carry none of their own
        if errors:
            # incremental results declare no `errors` attribute: the getattr above found one, so it is there
            result.errors = [self._tagged(error) for error in errors]  # type: ignore[union-attr]
        yield

    def _tagged(self, error: GraphQLError) -> GraphQLError:
        message = SUGGESTION.sub("", error.message) if self.hide_suggestions else error.message
        extensions = {**(error.extensions or {}), "code": error_code(error)}
        return GraphQLError(message, error.nodes, error.source, error.positions, error.path,
                            error.original_error, extensions)


class CodedMaskErrors(MaskErrors):
    """MaskErrors whose masked error keeps a code (a subscription's results are masked after tagging)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


class ReportingParserCache(ParserCache):
    """ParserCache that leaves a syntax error to strawberry's own parse step.

    ParserCache raises before its hook yields, outside the operation, so no extension saw the error
    and it went out without `extensions.code`; parsing again inside the operation reports it there."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLError:
            context.graphql_document = None
        yield


def schema_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Limits, caches and masking for `settings` (production also turns introspection off)."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.api_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.api_max_aliases).validation_rules,
    ]
    if settings.api_profile == "production":
        rules.append(NoSchemaIntrospectionCustomRule)
    max_tokens, production = settings.api_max_tokens, settings.api_profile == "production"
    return [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),  # before parsing: sets the lexer's limit
        lambda: ReportingParserCache(maxsize=CACHE_SIZE),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        lambda: CostBudget(settings),  # after validation: the document is known to be well-formed
        # Exit hooks run in reverse order: MaskErrors masks first, then ErrorCodes tags every error.
        lambda: ErrorCodes(hide_suggestions=production),
        lambda: CodedMaskErrors(should_mask_error=is_unexpected, error_message=UNEXPECTED),
    ]
