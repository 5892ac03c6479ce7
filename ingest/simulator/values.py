"""Realistic Sqoot-era deal values: places, providers, merchants, titles, prices (sqoot_api.md §5-§6).

Pure functions of a `random.Random`, so a seed fixes every value. The quirks of the real corpus are
reproduced on purpose: HTML in descriptions, null merchant fields for online deals, far-future expiry
sentinels, null `number_sold`, Restaurant.com cuisine and price tier in the address fields, discounts
as 2-decimal fractions, trailing spaces in titles.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from itertools import accumulate

from pipeline.taxonomy import CATEGORY_NAMES, CHILDREN, PARENT_OF, PARENTS

# locality, region, latitude, longitude, ZIP prefix, area code
CITIES: tuple[tuple[str, str, float, float, str, str], ...] = (
    ("New York", "NY", 40.7128, -74.0060, "100", "212"),
    ("Brooklyn", "NY", 40.6782, -73.9442, "112", "718"),
    ("Los Angeles", "CA", 34.0522, -118.2437, "900", "213"),
    ("San Francisco", "CA", 37.7749, -122.4194, "941", "415"),
    ("Mountain View", "CA", 37.3861, -122.0839, "940", "650"),
    ("San Diego", "CA", 32.7157, -117.1611, "921", "619"),
    ("Chicago", "IL", 41.8781, -87.6298, "606", "312"),
    ("Houston", "TX", 29.7604, -95.3698, "770", "713"),
    ("Austin", "TX", 30.2672, -97.7431, "787", "512"),
    ("Dallas", "TX", 32.7767, -96.7970, "752", "214"),
    ("Phoenix", "AZ", 33.4484, -112.0740, "850", "602"),
    ("Philadelphia", "PA", 39.9526, -75.1652, "191", "215"),
    ("Seattle", "WA", 47.6062, -122.3321, "981", "206"),
    ("Portland", "OR", 45.5152, -122.6784, "972", "503"),
    ("Denver", "CO", 39.7392, -104.9903, "802", "303"),
    ("Boston", "MA", 42.3601, -71.0589, "021", "617"),
    ("Atlanta", "GA", 33.7490, -84.3880, "303", "404"),
    ("Miami", "FL", 25.7617, -80.1918, "331", "305"),
    ("Milwaukee", "WI", 43.0389, -87.9065, "532", "414"),
    ("Minneapolis", "MN", 44.9778, -93.2650, "554", "612"),
    ("Nashua", "NH", 42.7654, -71.4676, "030", "603"),
    ("Las Vegas", "NV", 36.1699, -115.1398, "891", "702"),
    ("Washington", "DC", 38.9072, -77.0369, "200", "202"),
    ("Detroit", "MI", 42.3314, -83.0458, "482", "313"),
)
PROVIDERS: tuple[tuple[str, str, float], ...] = (
    ("groupon", "Groupon", 0.44),
    ("livingsocial", "LivingSocial", 0.2),
    ("amazon-local", "Amazon Local", 0.08),
    ("gilt-city", "Gilt City", 0.05),
    ("travelzoo", "Travelzoo", 0.05),
    ("eversave", "Eversave", 0.05),
    ("saveology", "Saveology", 0.05),
    ("tippr", "Tippr", 0.04),
    ("google-offers", "Google Offers", 0.04),
)
PROVIDER_NAMES = {slug: name for slug, name, _ in PROVIDERS} | {"restaurant-com": "Restaurant.com"}
EXPIRY_SENTINELS = ("2039-06-24T23:59:59Z", "2040-03-03T05:59:59Z")

_ITEMS = {
    "activities-events": (
        "Admission",
        "Guided Tour",
        "Tickets",
        "Lessons",
        "Tasting for Two",
        "Adventure Package",
    ),
    "dining-nightlife": (
        "Indian and Pakistani Food",
        "Sushi",
        "Pizza and Drinks",
        "Brunch",
        "Craft Beer",
        "Barbecue",
        "Tapas",
        "Steakhouse Dinner",
    ),
    "fitness": ("Classes", "Unlimited Month", "Personal Training Sessions", "Boot Camp", "Yoga Passes"),
    "health-beauty": (
        "Massage",
        "Facial",
        "Teeth Whitening",
        "Haircut and Color",
        "Laser Hair Removal",
        "Skin Treatments",
        "Mani-Pedi",
        "Eye Exam and Glasses",
    ),
    "product": (
        "Wireless Earbuds",
        "Leather Wallet",
        "Cookware Set",
        "Phone Case",
        "Smart Watch",
        "Duffel Bag",
        "LED Desk Lamp",
        "Cotton Sheets",
        "Bluetooth Speaker",
        "Puzzle Game",
    ),
    "retail-services": ("Oil Change", "Carpet Cleaning", "Photo Session", "Gourmet Treats", "Tailoring"),
    "special-interest": (
        "Pet Grooming",
        "Kids' Party Package",
        "Bridal Gown Cleaning",
        "Getaway for Two",
        "Kosher Catering",
        "Moving Boxes",
    ),
}
_NOUNS = {
    "activities-events": ("Adventures", "Tours", "Theater", "Lanes", "Winery", "Museum"),
    "dining-nightlife": ("Grill", "Bistro", "Cafe", "Taproom", "Kitchen", "Cantina", "Sushi Bar"),
    "fitness": ("Fitness", "Yoga Studio", "CrossFit", "Athletic Club", "Martial Arts"),
    "health-beauty": ("Spa", "Salon", "Wellness & Aesthetics", "Dental", "Skin Clinic", "Day Spa"),
    "product": ("Goods", "Supply Co.", "Outlet", "Direct", "Store"),
    "retail-services": ("Auto Care", "Cleaners", "Photography", "Bakery", "Services"),
    "special-interest": ("Pet Spa", "Travel", "Bridal", "Kids Club", "Catering"),
}
_ADJ = (
    "Golden",
    "Blue",
    "Urban",
    "Main Street",
    "Harbor",
    "Sunset",
    "Elite",
    "Lucky",
    "Green",
    "Royal",
    "Bright",
    "Example",
    "Riverside",
    "Summit",
    "Prairie",
    "Metro",
    "Coastal",
    "Maple",
    "Cedar",
    "Liberty",
)
_STREETS = (
    "Main St",
    "Castro St",
    "N Farwell Ave",
    "E Example St",
    "Market St",
    "Broadway",
    "Elm St",
    "Oak Ave",
    "Pine St",
    "Lake Shore Dr",
    "Sunset Blvd",
    "Peachtree St",
)
_CUISINES = ("Barbeque", "Italian", "Mexican", "Thai", "American", "Sushi")
_TIERS = ("Moderate", "Inexpensive", "Expensive")
_FINE = (
    "Limit 1 per person.",
    "Dine-in only.",
    "Not valid with other offers.",
    "Appointment required.",
    "Valid for new customers only.",
    "Expires 90 days after purchase.",
    "Tax and gratuity not included.",
    "Minimum purchase of $30 at restaurant.",
    "Shipping included.",
    "Must be 21 or older.",
)
_VALUES = (
    10,
    12,
    15,
    20,
    25,
    30,
    35,
    40,
    50,
    60,
    70,
    75,
    80,
    90,
    99,
    100,
    120,
    149,
    150,
    199,
    200,
    250,
    300,
    350,
    400,
    499,
    600,
    899,
    1200,
)
_VALUE_RANGE = {
    "dining-nightlife": (10, 100),
    "product": (10, 600),
    "health-beauty": (30, 600),
    "activities-events": (15, 250),
    "fitness": (20, 400),
    "retail-services": (20, 400),
    "special-interest": (20, 1200),
}

# Category draw: more restaurants and products, as in the 2016 corpus; ~5% filed under a parent directly
_SLUGS: tuple[str, ...] = CHILDREN + PARENTS
_WEIGHTS: tuple[float, ...] = tuple(
    (40.0 if s == "restaurants" else 3.0 if PARENT_OF[s] == "product" else 1.5) for s in CHILDREN
) + (2.0,) * len(PARENTS)


@dataclass(frozen=True)
class Place:
    locality: str
    region: str
    latitude: float
    longitude: float
    zip_prefix: str
    area_code: str


PLACES: tuple[Place, ...] = tuple(Place(*row) for row in CITIES)


_VALUES_BY_PARENT = {
    parent: tuple(v for v in _VALUES if low <= v <= high) for parent, (low, high) in _VALUE_RANGE.items()
}
_FRACTIONS = (0.1, 0.25, 0.4, 0.5, 0.5, 0.6, 0.6, 0.7, 0.73, 0.8, 0.94)
_CUM_WEIGHTS = tuple(accumulate(_WEIGHTS))
_PROVIDER_SLUGS = tuple(p[0] for p in PROVIDERS)
_PROVIDER_CUM = tuple(accumulate(p[2] for p in PROVIDERS))


def pick_category(rng: random.Random) -> str:
    return rng.choices(_SLUGS, cum_weights=_CUM_WEIGHTS)[0]


def pick_provider(rng: random.Random, category: str) -> str:
    if category == "restaurants" and rng.random() < 0.3:
        return "restaurant-com"
    return rng.choices(_PROVIDER_SLUGS, cum_weights=_PROVIDER_CUM)[0]


def is_online(rng: random.Random, category: str) -> bool:
    return PARENT_OF[category] == "product" and rng.random() < 0.92 or rng.random() < 0.03


def merchant_name(rng: random.Random, category: str) -> str:
    return f"{rng.choice(_ADJ)} {rng.choice(_NOUNS[PARENT_OF[category]])}"


def merchant(
    rng: random.Random, merchant_id: int, name: str, online: bool, provider: str
) -> dict[str, object]:
    """Merchant (§5.5): every key present; online ones null; Restaurant.com data sometimes mis-mapped."""
    if online:
        return {
            "id": merchant_id,
            "name": name,
            "address": None,
            "locality": None,
            "region": None,
            "postal_code": None,
            "country": None,
            "country_code": None,
            "latitude": None,
            "longitude": None,
            "phone_number": None,
            "url": None if rng.random() < 0.6 else f"http://www.{_slug(name)}.com",
        }
    place = rng.choice(PLACES)
    record: dict[str, object] = {
        "id": merchant_id,
        "name": name,
        "address": f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}",
        "locality": place.locality,
        "region": place.region,
        "postal_code": f"{place.zip_prefix}{rng.randint(0, 99):02d}",
        "country": "United States",
        "country_code": "US",
        "latitude": round(place.latitude + rng.uniform(-0.08, 0.08), 6),
        "longitude": round(place.longitude + rng.uniform(-0.08, 0.08), 6),
        "phone_number": f"+1{place.area_code}{rng.randint(2000000, 9999999)}",
        "url": None if rng.random() < 0.5 else f"http://www.{_slug(name)}.com",
    }
    if provider == "restaurant-com" and rng.random() < 0.3:
        record |= {
            "address": rng.choice(_TIERS),
            "locality": rng.choice(_CUISINES),
            "region": "American",
            "postal_code": "",
        }
    return record


def price_value(rng: random.Random, category: str) -> tuple[float, float]:
    """(price, value) with value from typical price points and a 10-94 % discount."""
    value = float(rng.choice(_VALUES_BY_PARENT[PARENT_OF[category]]))
    fraction = rng.choice(_FRACTIONS) + rng.uniform(-0.04, 0.04)
    price = float(max(1, round(value * (1 - fraction))))
    if rng.random() < 0.25:
        price = round(price - 0.01, 2)
    return price, value


def discount(price: float, value: float) -> tuple[float, float]:
    """(discount_amount, discount_percentage): `value − price` and a 2-decimal fraction (§5.4)."""
    amount = round(value - price, 2)
    return amount, round(amount / value, 2) if value else 0.0


def short_title(price: float, value: float, merchant_name: object) -> str:
    """`<N>% off at <merchant>`, N the rounded discount (sqoot_api.md, `short_title`)."""
    return f"{round(100 * discount(price, value)[1])}% off at {merchant_name}"


#: The headline shapes that state a price, a value or a discount (`title`, `market._retitle`), each with
#: its text around them; an "<item> at <merchant>" headline states none.
_STATED = (
    (re.compile(r"^\$[0-9.]+ for \$[0-9.]+ Worth of (?P<rest>.*)$", re.S), "${price:g} for ${value:g} Worth of {rest}"),
    (re.compile(r"^\$[0-9.]+ for (?P<rest>.*) \(\$[0-9.]+ Value\)$", re.S), "${price:g} for {rest} (${value:g} Value)"),
    (re.compile(r"^Up to [0-9]+% Off (?P<rest>.*)$", re.S), "Up to {up_to}% Off {rest}"),
    (re.compile(r"^[0-9]+% Off (?P<rest>.*)$", re.S), "{pct}% Off {rest}"),
)


def restated(title: str, price: float, value: float) -> str:
    """`title` in its own shape, stating `price`, `value` and their discount: a provider's headline
    follows its offer when the offer is repriced (a stale "$4 for a ... ($10 Value)" on a deal that now
    costs $10 would be the simulator contradicting itself). A headline of a percentage off loses it when
    there is no discount ("0% Off" is no headline)."""
    pct = round(100 * discount(price, value)[1])
    for pattern, shape in _STATED:
        match = pattern.match(title)
        if match:
            if pct == 0 and "% Off" in shape:
                return match["rest"]
            return shape.format(price=price, value=value, pct=pct, up_to=min(94, pct), rest=match["rest"])
    return title


def title(rng: random.Random, category: str, name: str, price: float, value: float, pct: float) -> str:
    item = rng.choice(_ITEMS[PARENT_OF[category]])
    shape = rng.random()
    if PARENT_OF[category] == "product":
        return (
            f"{round(100 * pct)}% Off {item}"
            if shape < 0.5
            else f"${price:g} for a {item} (${value:g} Value)"
        )
    if shape < 0.45:
        return f"${price:g} for ${value:g} Worth of {item} at {name}"
    tail = " " if rng.random() < 0.2 else ""
    return f"Up to {min(94, round(100 * pct) + rng.randint(0, 5))}% Off {item} at {name}{tail}"


def description(rng: random.Random, category: str, name: str) -> str | None:
    """HTML half the time, plain text often, sometimes empty, rarely null (§5.4)."""
    text = (
        f"{name} offers {rng.choice(_ITEMS[PARENT_OF[category]]).lower()} for"
        f" {CATEGORY_NAMES[category].lower()} fans. {rng.choice(_FINE)}"
    )
    draw = rng.random()
    if draw < 0.5:
        return f"<p>{text}</p><ul><li>{rng.choice(_FINE)}</li></ul>" if draw < 0.15 else f"<p>{text}</p>"
    return text if draw < 0.85 else ("" if draw < 0.97 else None)


def fine_print(rng: random.Random) -> str | None:
    draw = rng.random()
    if draw < 0.1:
        return "" if draw < 0.08 else None
    return " ".join(rng.sample(_FINE, rng.randint(1, 3)))


def number_sold(rng: random.Random) -> int | None:
    draw = rng.random()
    return None if draw < 0.1 else 0 if draw < 0.4 else int(rng.paretovariate(1.3) * 4)


def expires_ts(rng: random.Random, created_ts: float, start_ts: float) -> float | None | str:
    """A timestamp (seconds), None (no expiry), or a far-future sentinel string."""
    draw = rng.random()
    if draw < 0.08:
        return None
    if draw < 0.2:
        return rng.choice(EXPIRY_SENTINELS)
    day = 86_400.0
    end = max(created_ts, start_ts) + rng.uniform(3, 120) * day
    return end - end % day + rng.choice((5 * 3600 + 3599, 23 * 3600 + 3599))


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower().replace(" ", "-") if ch.isalnum() or ch == "-")
