"""Errors the API raises on purpose; each reaches the client with its message and a code.

    ApiError
     ├── InvalidInput (ValueError)     a query argument is out of bounds; names the field
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


class StoreUnavailable(ApiError):
    """The deal store (Cassandra) did not answer."""

    code = "STORE_UNAVAILABLE"

    def __init__(self, detail: str = "") -> None:
        message = "the deal store (Cassandra) is unavailable; retry shortly"
        super().__init__(f"{message} ({detail})" if detail else message)
