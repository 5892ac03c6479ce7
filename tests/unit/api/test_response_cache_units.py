"""Which answers the response cache may store, and the API's garbage-collector set-up, offline."""
from __future__ import annotations

import gc

import pytest

from graphql_api.app import freeze_start_up_objects
from graphql_api.response_cache import _is_query

TWO_OPERATIONS = "query Deals { deals { edges { cursor } } } mutation Forget { deleteInterest(id: 1) }"


@pytest.mark.parametrize(("document", "operation_name", "expected"), [
    ("{ categories { slug } }", None, True),
    ("query Q { categories { slug } }", "Q", True),
    ("mutation { deleteInterest(id: 1) }", None, False),
    ("subscription { trending { slug } }", None, False),
    (TWO_OPERATIONS, "Deals", True),
    (TWO_OPERATIONS, "Forget", False),
    (TWO_OPERATIONS, None, False),  # ambiguous: GraphQL refuses it, so nothing to store
    (TWO_OPERATIONS, "Nope", False),
    ("{ categories { slug ", None, False),  # a syntax error
    (None, None, False),
    ("{ categories { slug } }", ["not", "a", "name"], False),
])
def test_only_a_single_chosen_query_operation_is_storable(document: object, operation_name: object,
                                                         expected: bool) -> None:
    assert _is_query(document, operation_name) is expected
    assert _is_query(document, operation_name) is expected  # and again, from the cache


def test_start_up_objects_are_frozen_out_of_the_cycle_collector() -> None:
    made_before: list[object] = []
    made_before.append(made_before)  # a container the collector tracks
    try:
        freeze_start_up_objects()
        assert gc.get_freeze_count() > 0
        assert all(o is not made_before for o in gc.get_objects())  # frozen: no generation lists it
    finally:
        gc.unfreeze()
    assert any(o is made_before for o in gc.get_objects())
