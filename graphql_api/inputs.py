"""Input types and their validation; each message names the argument path it is about."""
from __future__ import annotations

from graphql_api.errors import InvalidInput

MAX_DEAL_ID = 2**63 - 1


def parse_deal_id(raw: str, *, field: str) -> int:
    """A deal id (a positive bigint) from its GraphQL ID form."""
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_DEAL_ID:
        raise InvalidInput(field, f"expected a deal id (a positive integer), found {str(raw)[:40]!r}")
    return int(text)
