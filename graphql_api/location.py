"""`Location`: where a deal can be redeemed (local deals only)."""
from __future__ import annotations

import strawberry

from graphql_api.repository import Row


@strawberry.type(description="A point on the map, WGS 84.")
class Location:
    latitude: float = strawberry.field(description="Degrees north, -90..90.")
    longitude: float = strawberry.field(description="Degrees east, -180..180.")
    geohash: str | None = strawberry.field(description="Geohash of the point at precision 7 (about 150 m).")

    @classmethod
    def from_row(cls, row: Row) -> Location | None:
        """The merchant's coordinates of a deal row; None for online deals."""
        if row.get("latitude") is None or row.get("longitude") is None:
            return None
        return cls(latitude=row["latitude"], longitude=row["longitude"], geohash=row.get("geohash"))
