"""Errors the API raises on purpose; each reaches the client with its message and a code.

    ApiError
     ├── InvalidInput (ValueError)     a query argument is out of bounds; names the field
     ├── OverBudget                    the document would cost more CQL reads than one request may
     ├── Unauthenticated               a field needs a bearer token, or the token is invalid/expired
     ├── Forbidden                     the token's role may not read this field
     ├── TooManySubscriptions          the server's subscription cap is reached
     └── StoreUnavailable              Cassandra cannot be reached right now; retry later

Anything else raised inside a resolver is unexpected and masked as "Unexpected error." (MaskErrors).
"""
from __future__ import annotations


class ApiError(Exception):
    """Base of the errors whose message is safe and useful to show to a client."""

    code = "API_ERROR"


class InvalidInput(ApiError, ValueError):
    """An argument failed validation; the message starts with the argument's path."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class OverBudget(ApiError):
    """The cost estimated from the document is above the per-request budget."""

    code = "GRAPHQL_VALIDATION_FAILED"

    def __init__(self, cost: int, budget: int) -> None:
        super().__init__(f"query cost {cost} exceeds the budget of {budget} (estimated CQL reads): ask for fewer "
                         "fields, aliases or items per page")
        self.cost, self.budget = cost, budget


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class TooManySubscriptions(ApiError):
    code = "TOO_MANY_SUBSCRIPTIONS"


class StoreUnavailable(ApiError):
    """The deal store (Cassandra) did not answer."""

    code = "STORE_UNAVAILABLE"

    def __init__(self, detail: str = "") -> None:
        message = "the deal store (Cassandra) is unavailable; retry shortly"
        super().__init__(f"{message} ({detail})" if detail else message)
