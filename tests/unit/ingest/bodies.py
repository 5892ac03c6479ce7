"""Response bodies shaped like sqoot_api.md §6 (values paraphrased there, structure as recorded)."""

from __future__ import annotations

from typing import Any

MILWAUKEE = {
    "address": None,
    "locality": "Milwaukee",
    "region": "WI",
    "postal_code": None,
    "country": "United States",
    "latitude": 43.0389,
    "longitude": -87.9065,
}

LOCAL_DEAL: dict[str, Any] = {
    "id": 3987001,
    "title": "$15 for $20 Worth of Indian and Pakistani Food at Example Grill",
    "short_title": "25% off at Example Grill",
    "description": "<p>Curries, kebabs and naan baked to order in a casual dining room.</p>",
    "fine_print": "Limit 1 per table. Dine-in only. Not valid with other offers.",
    "number_sold": 0,
    "url": "http://api.sqoot.com/v2/deals/3987001/click?api_key=K",
    "untracked_url": "https://www.groupon.com/deals/example-grill",
    "price": 15.0,
    "value": 20.0,
    "discount_amount": 5.0,
    "discount_percentage": 0.25,
    "provider_name": "Groupon",
    "provider_slug": "groupon",
    "category_name": "Restaurants",
    "category_slug": "restaurants",
    "image_url": "https://api.sqoot.com/v2/deals/3987001/image?api_key=K",
    "online": False,
    "expires_at": "2040-03-03T05:59:59Z",
    "created_at": "2015-10-29T07:47:33Z",
    "updated_at": "2016-01-21T23:50:17Z",
    "merchant": {
        "id": 1200456,
        "name": "Example Grill",
        "address": "1800 N Example Ave",
        "locality": "Milwaukee",
        "region": "WI",
        "postal_code": "53202",
        "country": "United States",
        "country_code": "US",
        "latitude": 43.0543,
        "longitude": -87.8889,
        "phone_number": "+14145550100",
        "url": None,
    },
}
ONLINE_DEAL: dict[str, Any] = LOCAL_DEAL | {
    "id": 3990112,
    "title": "Up to 73% Off Skin Treatments at Example Wellness ",
    "short_title": "73% off at Example Wellness",
    "description": "",
    "fine_print": "",
    "number_sold": None,
    "price": 95.0,
    "value": 350.0,
    "discount_amount": 255.0,
    "discount_percentage": 0.73,
    "online": True,
    "category_name": "Health & Beauty",
    "category_slug": "health-beauty",
    "expires_at": None,
    "merchant": {
        "id": 160776,
        "name": "Example Online Store",
        "address": None,
        "locality": None,
        "region": None,
        "postal_code": None,
        "country": None,
        "country_code": None,
        "latitude": None,
        "longitude": None,
        "phone_number": None,
        "url": None,
    },
}


def deals_body(deals: list[dict[str, Any]], total: int = 1843, page: int = 1, per_page: int = 2) -> dict[str, Any]:
    """The §6.1 envelope: `query` first, then `deals` as one-key wrappers."""
    return {
        "query": {
            "total": total,
            "page": page,
            "per_page": per_page,
            "query": None,
            "location": MILWAUKEE,
            "radius": 10,
            "online": False,
            "category_slugs": [],
            "provider_slugs": [],
            "updated_after": None,
        },
        "deals": [{"deal": d} for d in deals],
    }


EMPTY_BODY = {
    "query": {
        "total": 0,
        "page": 1,
        "per_page": 10,
        "query": None,
        "location": None,
        "radius": 10,
        "online": None,
        "category_slugs": [],
        "provider_slugs": [],
        "updated_after": None,
    },
    "deals": [],
}

CATEGORIES_BODY = {
    "categories": [
        {"category": {"slug": "activities-events", "name": "Activities & Events", "parent_slug": None}},
        {"category": {"slug": "adult", "name": "Adult Products", "parent_slug": "product"}},
        {"category": {"slug": "audio", "name": "Audio & Accessories", "parent_slug": "product"}},
        {"category": {"slug": "bars-clubs", "name": "Bars & Clubs", "parent_slug": "dining-nightlife"}},
        {"category": {"slug": "dining-nightlife", "name": "Dining & Nightlife", "parent_slug": None}},
        {"category": {"slug": "restaurants", "name": "Restaurants", "parent_slug": "dining-nightlife"}},
    ]
}
