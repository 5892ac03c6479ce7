"""The repository's one DataFrame assertion (chispa, strict on schema, free on row order)."""
from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import DataFrame


def assert_frames_equal(got: DataFrame, want: DataFrame) -> None:
    """Whole-frame equality: same column names and types, same rows in any order."""
    assert_df_equality(got, want, ignore_row_order=True, ignore_nullable=True)
