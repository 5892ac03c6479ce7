"""Column expressions built once per JVM and reused by every micro-batch.

Every Spark `Column` built in Python is a call to the JVM (py4j), and every one of them is a second
call when Python garbage-collects it. A deals micro-batch made about 5,100 such calls, a third of
them those releases, and a few functions made most of the rest by spelling the same expression again:
the category lookups (a CASE WHEN of about 80 branches, three times) and the geohash (50 bits,
each a few calls). On two busy cores a call costs 0.1-0.2 ms, so they were 0.5-0.9 s of a batch.

A JVM `Column` is an immutable expression tree, unresolved until a plan uses it, so one built for
the first batch means the same in every later one, in any session of the same JVM and from any
thread. `reused` keeps the result of a pure column-building function by its arguments: plain
values as they are, a `Column` by the JSON of its expression tree (every node's class, fields,
literal values and their types: `lit(1)` and `lit("1")` differ, where their text is the same), three
calls instead of rebuilding it. The cache is per py4j gateway: a new JVM builds its own.
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from typing import Any, ParamSpec, TypeVar

from pyspark import SparkContext
from pyspark.sql import Column, DataFrame

P = ParamSpec("P")
R = TypeVar("R")  # a Column, a tuple of them, or another immutable JVM object


def reused(build: Callable[P, R]) -> Callable[P, R]:
    """`build(*args)` once per distinct arguments and JVM; its arguments must be hashable or columns.

    The columns may carry aliases: every frame selected through them then has the same attribute ids,
    as frames made from one Column object always do. Joined by column name (as the pipeline joins,
    never by `df[name]` references) such frames meet in one plan correctly: Spark's analyser gives one
    side new ids (tests/unit/test_column_cache.py)."""
    built: dict[tuple[Hashable, ...], R] = {}
    lock = threading.Lock()

    @functools.wraps(build)
    def get(*args: P.args, **kwargs: P.kwargs) -> R:
        key = (id(SparkContext._gateway), *map(_key_of, args), *sorted((k, _key_of(v)) for k, v in kwargs.items()))
        with lock:
            column = built.get(key)
        if column is None:  # built outside the lock: two threads may both build it, and either is right
            column = build(*args, **kwargs)
            with lock:
                column = built.setdefault(key, column)
        return column

    return get


def _key_of(value: Any) -> Hashable:
    if isinstance(value, Column):
        return Column, value._jc.expr().toJSON()
    return value


def select_expressions(df: DataFrame, expressions: tuple[str, ...]) -> DataFrame:
    """`df.selectExpr(*expressions)`, the expressions' Java sequence made once per JVM.

    PySpark sends a list of strings to the JVM one element per call; the sinks select the same table
    shapes every micro-batch (about 250 such calls per deals batch).
    """
    return DataFrame(df._jdf.selectExpr(_java_strings(expressions)), df.sparkSession)


@reused
def _java_strings(strings: tuple[str, ...]) -> Any:
    """The strings as a Java sequence of the running JVM (kept per JVM by `reused`, like the columns)."""
    assert SparkContext._jvm is not None, "a Spark session must be running"
    return SparkContext._jvm.PythonUtils.toSeq(list(strings))
