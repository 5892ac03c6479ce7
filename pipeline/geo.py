"""Geohash and great-circle distance as native Spark expressions (no Python UDF on the hot path).

A geohash interleaves the bits of the longitude and latitude cell indexes (longitude first) and
spells the result five bits per base-32 character. The indexes are computed in a projection of
their own: every bit refers to them, and Catalyst only evaluates a shared subexpression once when
it is a column of the projection below (it does not collapse projects that would duplicate it).
Each expression is built once per JVM (`column_cache.reused`): spelling 50 bits took about 600
calls to the JVM per micro-batch.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipeline.cells import BASE32, DEAL_GEOHASH_PRECISION, EARTH_RADIUS_KM, GEOCELL_PRECISION, bit_widths
from pipeline.column_cache import reused

__all__ = ["DEAL_GEOHASH_PRECISION", "GEOCELL_PRECISION", "geohash", "geohash_prefix", "haversine_km",
           "with_geohash"]


@reused
def _cell_index(coord: Column, low: float, span: float, bits: int) -> Column:
    """Which of the 2**bits equal slices of [low, low + span) holds `coord`."""
    slices = 1 << bits
    raw = F.floor((coord - F.lit(low)) / F.lit(span) * F.lit(slices)).cast("long")
    return F.least(F.greatest(raw, F.lit(0).cast("long")), F.lit(slices - 1).cast("long"))


def _bit(index: Column, position_from_msb: int, width: int) -> Column:
    return F.shiftright(index, width - 1 - position_from_msb).bitwiseAND(F.lit(1))


def _spell(lon_idx: Column, lat_idx: Column, precision: int) -> Column:
    total = 5 * precision
    lon_bits, lat_bits = bit_widths(precision)
    bits = [_bit(lon_idx, i // 2, lon_bits) if i % 2 == 0 else _bit(lat_idx, i // 2, lat_bits) for i in range(total)]
    chars = []
    for j in range(precision):
        value = sum((bits[5 * j + k] * F.lit(1 << (4 - k)) for k in range(5)), F.lit(0))
        # substr of a literal string: an array literal would be rebuilt for every row.
        chars.append(F.substr(F.lit(BASE32), (value + F.lit(1)).cast("int"), F.lit(1)))
    return F.concat(*chars)


def with_geohash(df: DataFrame, *, lat_col: str, lon_col: str, out_col: str, precision: int) -> DataFrame:
    """Add `out_col`, the standard geohash of (lat, lon); null when either is null."""
    lon_idx, lat_idx, spelled = _geohash_steps(lat_col, lon_col, precision)
    indexed_df = df.withColumns({"_gh_lon_idx": lon_idx, "_gh_lat_idx": lat_idx})
    return indexed_df.withColumn(out_col, spelled).drop("_gh_lon_idx", "_gh_lat_idx")


def _geohash_steps(lat_col: str, lon_col: str, precision: int) -> tuple[Column, Column, Column]:
    """The two cell indexes of `with_geohash`, and its spelling of them (over their temporary names)."""
    lon_bits, lat_bits = bit_widths(precision)
    return (_cell_index(F.col(lon_col), -180.0, 360.0, lon_bits), _cell_index(F.col(lat_col), -90.0, 180.0, lat_bits),
            _placed_spelling(lat_col, lon_col, precision))


@reused
def _placed_spelling(lat_col: str, lon_col: str, precision: int) -> Column:
    is_placed = F.col(lat_col).isNotNull() & F.col(lon_col).isNotNull()
    return F.when(is_placed, _spell(F.col("_gh_lon_idx"), F.col("_gh_lat_idx"), precision))


def geohash_prefix(hash_col: Column, precision: int) -> Column:
    """The enclosing cell of a longer geohash: its first `precision` characters."""
    return F.substring(hash_col, 1, precision)


@reused
def geohash(lat: Column, lon: Column, precision: int) -> Column:
    """The geohash as one column expression, for a select; `with_geohash` is cheaper on wide frames."""
    lon_bits, lat_bits = bit_widths(precision)
    lon_idx = _cell_index(lon, -180.0, 360.0, lon_bits)
    lat_idx = _cell_index(lat, -90.0, 180.0, lat_bits)
    return F.when(lat.isNotNull() & lon.isNotNull(), _spell(lon_idx, lat_idx, precision))


def haversine_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    """Great-circle distance in km: `pipeline.cells.haversine_km` as a column expression."""
    phi1, phi2 = F.radians(lat1), F.radians(lat2)
    dphi, dlmb = phi2 - phi1, F.radians(lon2 - lon1)
    a = F.pow(F.sin(dphi / 2), 2) + F.cos(phi1) * F.cos(phi2) * F.pow(F.sin(dlmb / 2), 2)
    return F.lit(2 * EARTH_RADIUS_KM) * F.asin(F.least(F.lit(1.0), F.sqrt(a)))
