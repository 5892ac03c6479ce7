"""A sink's JSON upserts of one partition go as one UNLOGGED batch; anything else as it was
(pipeline/partition_batches.py)."""
from __future__ import annotations

import json
from typing import Any

from cassandra.query import BatchStatement, BatchType

from pipeline.partition_batches import TableKeys, in_partition_batches

UPSERT = "INSERT INTO ks.feed JSON %s"  # a str stands for a prepared statement: a batch binds it the same way
DELETE = "DELETE FROM ks.feed WHERE deal_id = %s AND user_id = %s"
FEED = TableKeys(partition=("deal_id",), primary=("deal_id", "user_id"))


def keys_of(statement: Any) -> TableKeys | None:
    return FEED if statement == UPSERT else None


def upsert(deal_id: int, user_id: int, text: str = "") -> tuple[str, tuple[str]]:
    return UPSERT, (json.dumps({"deal_id": deal_id, "user_id": user_id, "text": text}),)


def shape(requests: list[Any]) -> list[Any]:
    """Each request as ("batch", rows in it) or the statement's own parameters."""
    out: list[Any] = []
    for statement, params in requests:
        if isinstance(statement, BatchStatement):
            assert statement.batch_type == BatchType.UNLOGGED and params == ()
            out.append(("batch", len(statement)))
        else:
            out.append(params)
    return out


def test_upserts_of_one_partition_go_together_in_the_order_of_their_first_row() -> None:
    statements = [upsert(1, 10), upsert(2, 20), (DELETE, (3, 30)), upsert(1, 11), upsert(2, 21), upsert(1, 12),
                  upsert(4, 40)]
    assert shape(in_partition_batches(statements, keys_of)) == [
        ("batch", 3), ("batch", 2), (3, 30), statements[-1][1]]


def test_a_partition_that_repeats_a_row_goes_row_by_row_as_the_later_one_must_win() -> None:
    statements = [upsert(1, 10, "old"), upsert(1, 10, "new"), upsert(2, 20), upsert(2, 21)]
    assert shape(in_partition_batches(statements, keys_of)) == [
        statements[0][1], statements[1][1], ("batch", 2)]


def test_a_batch_stays_under_the_size_limit() -> None:
    statements = [upsert(1, user, "x" * 100) for user in range(10)]
    size = len(statements[0][1][0])
    requests = in_partition_batches(statements, keys_of, max_bytes=3 * size)
    assert shape(requests) == [("batch", 3), ("batch", 3), ("batch", 3), ("batch", 1)]


def test_every_statement_is_sent_once() -> None:
    statements = [upsert(user % 3, user) for user in range(50)] + [(DELETE, (1, 1))]
    requests = in_partition_batches(statements, keys_of, max_bytes=200)
    assert sum(len(s) if isinstance(s, BatchStatement) else 1 for s, _ in requests) == len(statements)
