"""Raw deals of a small market for score tests: one item at several sellers, online and local."""
from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from tests import factories

CHICAGO = {"locality": "Chicago", "latitude": 41.8781, "longitude": -87.6298}


def market(rng: random.Random, *, days_later: int = 0) -> list[dict[str, Any]]:
    """Earbuds from five online sellers (one inflating its value), massages from four Chicago spas."""
    when = factories.BASE_TIME + timedelta(days=days_later)
    deals = []
    for i, (price, value) in enumerate([(92.0, 200.0), (100.0, 100.0), (105.0, 105.0), (95.0, 100.0), (98.0, 99.0)]):
        deals.append(factories.deal(rng, 500 + i, updated_at=when, online=True, category_slug="electronics",
                                    title=f"${price:g} for a Acme X200 Wireless Earbuds (${value:g} Value)",
                                    price=price, value=value, merchant=factories.merchant(rng, 900 + i, online=True)))
    for i, (price, value) in enumerate([(40.0, 80.0), (78.0, 80.0), (80.0, 82.0), (79.0, 79.0)]):
        place = {**factories.merchant(rng, 950 + i, online=False), **CHICAGO}
        deals.append(factories.deal(rng, 600 + i, updated_at=when, online=False, category_slug="spa",
                                    title=f"Up to 50% Off 60-Minute Swedish Massage at Spa {i}",
                                    price=price, value=value, merchant=place))
    return deals
