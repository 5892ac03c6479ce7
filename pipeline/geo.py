"""Geohash as native Spark column expressions (no Python UDF on the hot path)."""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
#: Precision of the cell that partitions deals_by_geocell: about 39 km x 19.5 km.
GEOCELL_PRECISION = 4
#: Precision stored on each deal for finer client-side use: about 153 m x 153 m.
DEAL_GEOHASH_PRECISION = 7


def _cell_index(coord: Column, low: float, span: float, bits: int) -> Column:
    """Which of the 2**bits equal slices of [low, low + span) holds `coord`."""
    slices = 1 << bits
    raw = F.floor((coord - F.lit(low)) / F.lit(span) * F.lit(slices)).cast("long")
    return F.least(F.greatest(raw, F.lit(0).cast("long")), F.lit(slices - 1).cast("long"))


def _bit(index: Column, position_from_msb: int, width: int) -> Column:
    return F.shiftright(index, width - 1 - position_from_msb).bitwiseAND(F.lit(1))


def geohash(lat: Column, lon: Column, precision: int) -> Column:
    """Standard geohash of (lat, lon); null when either is null. Bits alternate lon, lat."""
    total = 5 * precision
    lon_bits, lat_bits = (total + 1) // 2, total // 2
    lon_idx = _cell_index(lon, -180.0, 360.0, lon_bits)
    lat_idx = _cell_index(lat, -90.0, 180.0, lat_bits)
    bits = [
        _bit(lon_idx, i // 2, lon_bits) if i % 2 == 0 else _bit(lat_idx, i // 2, lat_bits)
        for i in range(total)
    ]
    alphabet = F.array(*[F.lit(c) for c in BASE32])
    chars = []
    for j in range(precision):
        value = sum((bits[5 * j + k] * F.lit(1 << (4 - k)) for k in range(5)), F.lit(0))
        chars.append(F.element_at(alphabet, (value + F.lit(1)).cast("int")))
    encoded = F.concat(*chars)
    return F.when(lat.isNotNull() & lon.isNotNull(), encoded)
