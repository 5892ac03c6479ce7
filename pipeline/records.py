"""What every record stream shares: the raw envelope, typed reads of text fields, table shapes.

Deals and user events arrive the same way (a Kafka or lake record whose value is JSON); both
parse it once with an explicit payload schema, type numbers from text the same way, reject an
empty or non-object payload with the same reasons, and end each table transform with a select
that matches the table exactly. Pure column expressions: no I/O, no session.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline.column_cache import reused, select_expressions
from pipeline.schemas import CORRUPT_RECORD, RAW_RECORD_SCHEMA

INTEGER_TEXT = r"^-?[0-9]+$"
#: A rule is (condition, reason): the first condition that holds names why a record is rejected.
Rule = tuple[Column, Column]


def require_columns(df: DataFrame, required: tuple[str, ...]) -> None:
    """Raise naming the missing and the present columns when `df` lacks any of `required`."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"missing columns {missing}; present: {sorted(df.columns)}")


def select_schema(df: DataFrame, schema: T.StructType) -> DataFrame:
    """End a transform with a select that matches the target table exactly (names and types).

    As SQL expressions, in one call to the JVM (`column_cache.select_expressions`): built from Column
    objects the select cost about four
    py4j round trips per field (column, type, cast, alias), and a micro-batch sink selects a few
    hundred fields per batch (issue 10's profile: about a second per batch on two busy cores).
    """
    return select_expressions(df, tuple(f"CAST(`{f.name}` AS {f.dataType.simpleString()}) AS `{f.name}`"
                                        for f in schema.fields))


def lookup(mapping: Mapping[str, Any], key: Column) -> Column:
    """`mapping[key]` as a column: null for a key not in it (or a null key).

    A CASE WHEN per key, not a map literal: Spark 3.5's `CreateMap` evaluates into one builder shared by
    every use of the expression, and the optimiser folds it to a constant. The activity events and review
    sinks optimise plans that share it from two threads, and the speed layer failed on that race with
    DUPLICATED_MAP_KEY on the map's first key. A CASE WHEN has no state, and compiles. Measured against
    the alternatives (ten filters and projections over one lookup of the 100-entry category map, warm
    JVM): its optimised plan was the smallest (6.8k characters; two array literals 22k, a map literal
    42k) and it optimised as fast (0.04-0.12 s against 0.08 s).

    Built once per mapping and key expression (`column_cache.reused`): about 160 calls to the JVM each time.
    """
    return _case_when(tuple(sorted(mapping.items())), key)


@reused
def _case_when(entries: tuple[tuple[str, Any], ...], key: Column) -> Column:
    if not entries:
        return F.lit(None)
    (first_key, first_value), rest = entries[0], entries[1:]
    column = F.when(key == first_key, first_value)
    for k, v in rest:
        column = column.when(key == k, v)
    return column


def decimal(text: Column) -> Column:
    return F.trim(text).cast("double")


def integer(text: Column, spark_type: str = "long") -> Column:
    """An integer read from text; null (never a truncated value) when the text is not an integer."""
    trimmed = F.trim(text)
    return F.when(trimmed.rlike(INTEGER_TEXT), trimmed.cast(spark_type))


def blank_to_null(col: Column) -> Column:
    trimmed = F.trim(col)
    return F.when(trimmed != "", trimmed)


def parse_records(raw_df: DataFrame, payload_schema: T.StructType, payload_col: str) -> DataFrame:
    """Parse each record's JSON value once with the explicit payload schema; keep the raw payload."""
    require_columns(raw_df, tuple(RAW_RECORD_SCHEMA.fieldNames()))
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}
    return raw_df.select(
        F.col("value").alias("raw_payload"),
        F.concat_ws("-", "topic", "partition", "offset").alias("record_id"),
        F.col("topic"), F.col("partition"), F.col("offset"),
        # Kafka stamps every record and the lake keeps that stamp, so this is never null. It must stay a
        # column: a fallback to current_timestamp() became a new literal in every micro-batch's plan, and
        # with it new generated code to compile (Janino, then the JIT) each batch of every stream.
        F.col("timestamp").alias("received_at"),
        F.from_json("value", payload_schema, options).alias(payload_col),
    )


def envelope_rules(payload_col: str) -> list[Rule]:
    """The first two rules of every stream: an empty payload, and one that is not a JSON object."""
    is_blank = F.col("raw_payload").isNull() | (F.trim("raw_payload") == "")
    is_not_object = F.col(payload_col).isNull() | F.col(payload_col).getField(CORRUPT_RECORD).isNotNull()
    return [(is_blank, F.lit("empty payload")),
            (is_not_object, F.lit("payload is not a JSON object (malformed or truncated JSON)"))]


def field_rules(field: Callable[[str], Column], *, integers: tuple[str, ...], decimals: tuple[str, ...],
                required: tuple[str, ...]) -> list[Rule]:
    """Numbers that are not numbers (when present), then required fields that are missing."""
    rules: list[Rule] = []
    for name in integers + decimals:
        typed = integer(field(name)) if name in integers else decimal(field(name))
        rules.append((field(name).isNotNull() & typed.isNull(), F.lit(f"field '{name}' is not a number")))
    rules += [(field(name).isNull(), F.lit(f"missing required field '{name}'")) for name in required]
    return rules


def first_reason(rules: list[Rule]) -> Column:
    """The reason of the first rule that holds; null for a valid record."""
    return F.coalesce(*[F.when(condition, reason) for condition, reason in rules])
