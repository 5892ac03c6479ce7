"""Geohash cells and great-circle distance in plain Python: the one definition of both.

`pipeline.geo` spells the same integer-slice encoding as Spark expressions for the jobs; the API
(`cells_covering` lists the cells a radius search must read, `haversine_km` keeps the deals truly
inside it), the simulators and the tests use these functions. No Spark import here.
"""
from __future__ import annotations

import math

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
#: Precision of the cell that partitions deals_by_geocell: about 39 km x 19.5 km.
GEOCELL_PRECISION = 4
#: Precision stored on each deal for finer client-side use: about 153 m x 153 m.
DEAL_GEOHASH_PRECISION = 7
MAX_PRECISION = 12  # 60 bits: the interleaved code must fit a signed long
#: Mean Earth radius (IUGG), the one used for every distance in the platform.
EARTH_RADIUS_KM = 6371.0088
KM_PER_MILE = 1.609344


def bit_widths(precision: int) -> tuple[int, int]:
    """(longitude bits, latitude bits) of a geohash of `precision` characters."""
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"geohash precision must be 1..{MAX_PRECISION}, got {precision}")
    total = 5 * precision
    return (total + 1) // 2, total // 2  # longitude gets the extra bit (bits alternate lon, lat)


def _slice(coord: float, low: float, span: float, bits: int) -> int:
    slices = 1 << bits
    return min(max(math.floor((coord - low) / span * slices), 0), slices - 1)


def lat_slice(lat: float, bits: int) -> int:
    return _slice(lat, -90.0, 180.0, bits)


def lon_slice(lon: float, bits: int) -> int:
    return _slice(lon, -180.0, 360.0, bits)


def encode(lon_idx: int, lat_idx: int, precision: int) -> str:
    """The geohash of the cell with these longitude and latitude slice indexes."""
    lon_bits, lat_bits = bit_widths(precision)
    chars, value = [], 0
    for i in range(5 * precision):
        index, width = (lon_idx, lon_bits) if i % 2 == 0 else (lat_idx, lat_bits)
        value = (value << 1) | ((index >> (width - 1 - i // 2)) & 1)
        if i % 5 == 4:
            chars.append(BASE32[value])
            value = 0
    return "".join(chars)


def decode(cell: str) -> tuple[int, int]:
    """(longitude slice, latitude slice) of a geohash."""
    lon_idx = lat_idx = 0
    for i, bit in enumerate(b for ch in cell for b in format(BASE32.index(ch), "05b")):
        if i % 2 == 0:
            lon_idx = (lon_idx << 1) | int(bit)
        else:
            lat_idx = (lat_idx << 1) | int(bit)
    return lon_idx, lat_idx


def geohash(lat: float, lon: float, precision: int = GEOCELL_PRECISION) -> str:
    """Geohash of a point, as `pipeline.geo.geohash` computes it in Spark."""
    lon_bits, lat_bits = bit_widths(precision)
    return encode(lon_slice(lon, lon_bits), lat_slice(lat, lat_bits), precision)


def neighbours(cell: str) -> list[str]:
    """The up-to-8 cells around `cell` (longitude wraps around; latitude stops at the poles)."""
    precision = len(cell)
    lon_bits, lat_bits = bit_widths(precision)
    lon_idx, lat_idx = decode(cell)
    found = []
    for dlat in (-1, 0, 1):
        for dlon in (-1, 0, 1):
            lat_n = lat_idx + dlat
            if (dlat, dlon) != (0, 0) and 0 <= lat_n < 1 << lat_bits:
                found.append(encode((lon_idx + dlon) % (1 << lon_bits), lat_n, precision))
    return list(dict.fromkeys(found))


def cells_covering(lat: float, lon: float, radius_km: float, precision: int = GEOCELL_PRECISION) -> list[str]:
    """Every cell that intersects the bounding box of the circle (lat, lon, radius_km)."""
    lon_bits, lat_bits = bit_widths(precision)
    angle = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angle)
    south, north = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
    lat_range = range(lat_slice(south, lat_bits), lat_slice(north, lat_bits) + 1)
    cos_lat = math.cos(math.radians(lat))
    if south <= -90.0 or north >= 90.0 or math.sin(angle) >= cos_lat:
        lon_range = range(0, 1 << lon_bits)  # the circle reaches a pole: every longitude
    else:
        dlon = math.degrees(math.asin(math.sin(angle) / cos_lat))
        first = lon_slice(lon - dlon, lon_bits) if lon - dlon >= -180 else \
            lon_slice(lon - dlon + 360.0, lon_bits) - (1 << lon_bits)
        last = lon_slice(lon + dlon, lon_bits) if lon + dlon < 180 else \
            lon_slice(lon + dlon - 360.0, lon_bits) + (1 << lon_bits)
        lon_range = range(first, last + 1)
    return list(dict.fromkeys(encode(i % (1 << lon_bits), j, precision) for j in lat_range for i in lon_range))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points, in km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def cell_centre(cell: str) -> tuple[float, float]:
    """(lat, lon) of the centre of a geohash cell."""
    lon_bits, lat_bits = bit_widths(len(cell))
    lon_idx, lat_idx = decode(cell)
    return (-90.0 + (lat_idx + 0.5) * 180.0 / (1 << lat_bits), -180.0 + (lon_idx + 0.5) * 360.0 / (1 << lon_bits))


def box_slices(south: float, west: float, north: float, east: float, precision: int) -> tuple[range, range]:
    """(latitude slices, longitude slices) of the cells that intersect a box (west <= east)."""
    lon_bits, lat_bits = bit_widths(precision)
    return (range(lat_slice(south, lat_bits), lat_slice(north, lat_bits) + 1),
            range(lon_slice(west, lon_bits), lon_slice(east, lon_bits) + 1))
