"""Opaque cursors round-trip exactly and reject anything that is not one of ours."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphql_api.cursors import decode_cursor, encode_cursor
from graphql_api.errors import InvalidInput


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**62), 2**62), st.integers(0, 2**62))
def test_cursor_round_trips(value: float, row_id: int) -> None:
    assert decode_cursor(encode_cursor("CHEAPEST", value, row_id), tag="CHEAPEST") == (value, row_id)


def test_cursor_is_opaque_base64url() -> None:
    cursor = encode_cursor("BEST_DISCOUNT", 0.5, 4000001)
    assert "=" not in cursor and "BEST" not in cursor


@pytest.mark.parametrize("cursor", ["%%%", "", "bm90IGpzb24", encode_cursor("X", 1, 1)[:-3]])
def test_garbage_is_rejected(cursor: str) -> None:
    with pytest.raises(InvalidInput, match="^after: not a cursor returned by this API$"):
        decode_cursor(cursor, tag="X")


def test_cursor_of_another_order_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="cursor belongs to order 'CHEAPEST', not 'NEAREST'"):
        decode_cursor(encode_cursor("CHEAPEST", 1.0, 2), tag="NEAREST")
