"""Opaque Relay cursors: base64url of [sort tag, sort value, id] — a position in the result order.

The next page restarts the clustering range at the sort value (inclusive) and skips the rows at or
before the position, so pages neither repeat nor miss rows even when sort values tie.
"""
from __future__ import annotations

import base64
import binascii
import math

import orjson

from graphql_api.errors import InvalidInput

Position = tuple[float | int, int]
#: Every id and sort value a cursor may hold fits a CQL bigint (a larger one is not ours).
MAX_ID = 2**63 - 1


def encode_cursor(tag: str, value: float | int, row_id: int) -> str:
    """The cursor of a row at `value` (its sort value) with `row_id` under the order named `tag`."""
    return base64.urlsafe_b64encode(orjson.dumps([tag, value, row_id])).decode().rstrip("=")


def decode_cursor(cursor: str, *, tag: str, field: str = "after") -> Position:
    """The position inside a cursor; InvalidInput when it is not ours or is for another order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidInput(field, "not a cursor returned by this API") from exc
    if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[0], str)
            and _is_number(decoded[1]) and abs(decoded[1]) <= MAX_ID
            and type(decoded[2]) is int and 0 <= decoded[2] <= MAX_ID):
        raise InvalidInput(field, "not a cursor returned by this API")
    if decoded[0] != tag:
        raise InvalidInput(field, f"cursor belongs to order {decoded[0][:40]!r}, not {tag!r}")
    return decoded[1], decoded[2]


def _is_number(value: object) -> bool:
    return (type(value) is int or type(value) is float) and math.isfinite(value)  # exact types: not bool
