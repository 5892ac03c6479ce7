"""Schema extensions: limits, caches and error masking, built once per schema from settings.

Every entry is a factory (a fresh extension per request). The validation rules are created once,
so the rule tuple is the same object on every request and ValidationCache can hit.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from graphql import GraphQLError
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

from conf.settings import Settings
from graphql_api.errors import ApiError

log = logging.getLogger(__name__)
CACHE_SIZE = 256
UNEXPECTED = "Unexpected error."


def is_unexpected(error: GraphQLError) -> bool:
    """A resolver raised something other than an ApiError: hide its message from the client."""
    original = error.original_error
    return original is not None and not isinstance(original, ApiError)


class ErrorCodes(SchemaExtension):
    """Tag errors with `extensions.code` (BAD_USER_INPUT, STORE_UNAVAILABLE, GRAPHQL_VALIDATION...)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [_with_code(error) for error in errors]


def _with_code(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, ApiError):
        code = original.code
    elif original is None and error.path is None:
        code = "GRAPHQL_VALIDATION_FAILED"
    else:
        code = "INTERNAL_SERVER_ERROR"
    extensions = {**(error.extensions or {}), "code": code}
    return GraphQLError(error.message, error.nodes, error.source, error.positions, error.path,
                        original, extensions)


def schema_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Limits, caches and masking for `settings` (production also turns introspection off)."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.api_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.api_max_aliases).validation_rules,
    ]
    if settings.api_profile == "production":
        rules.append(NoSchemaIntrospectionCustomRule)
    max_tokens = settings.api_max_tokens
    return [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),  # before parsing: sets the lexer's limit
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        # Exit hooks run in reverse order: MaskErrors masks first, then ErrorCodes tags every error.
        ErrorCodes,
        lambda: MaskErrors(should_mask_error=is_unexpected, error_message=UNEXPECTED),
    ]
