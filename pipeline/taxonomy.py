"""The Sqoot v2 category taxonomy (January 2016 snapshot: 7 parents, 72 children).

Reference data shared by the simulator (what it serves) and the transforms (what a known
category is, and which parent a child rolls up to).
"""
from __future__ import annotations

from types import MappingProxyType

# parent slug -> (parent name, ((child slug, child name), ...))
_TREE: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "activities-events": ("Activities & Events", (
        ("bowling", "Bowling"), ("city-tours", "City Tours"), ("comedy-clubs", "Comedy Clubs"),
        ("concerts", "Concerts"), ("dance-classes", "Dance Classes"), ("golf", "Golf"),
        ("life-skills-classes", "Life Skills Classes"), ("museums", "Museums"),
        ("outdoor-adventures", "Outdoor Adventures"), ("skiing", "Skiing"), ("skydiving", "Skydiving"),
        ("sporting-events", "Sporting Events"), ("theater", "Theater"), ("wine-tasting", "Wine Tasting"),
    )),
    "dining-nightlife": ("Dining & Nightlife", (("bars-clubs", "Bars & Clubs"), ("restaurants", "Restaurants"))),
    "fitness": ("Fitness", (
        ("boot-camp", "Boot Camp"), ("fitness-classes", "Fitness Classes"), ("gym", "Gym"),
        ("martial-arts", "Martial Arts"), ("personal-training", "Personal Training"), ("pilates", "Pilates"),
        ("yoga", "Yoga"),
    )),
    "health-beauty": ("Health & Beauty", (
        ("chiropractic", "Chiropractic"), ("dental", "Dental"), ("dermatology", "Dermatology"),
        ("eye-vision", "Eye & Vision"), ("facial", "Facial"), ("hair-removal", "Hair Removal"),
        ("hair-salon", "Hair Salon"), ("makeup", "Makeup"), ("manicure-pedicure", "Manicure & Pedicure"),
        ("massage", "Massage"), ("spa", "Spa"), ("tanning", "Tanning"), ("teeth-whitening", "Teeth Whitening"),
    )),
    "product": ("Product", (
        ("adult", "Adult Products"), ("audio", "Audio & Accessories"), ("automotive", "Automotive"),
        ("beauty_health", "Beauty & Health"), ("crafts_hobbies", "Crafts & Hobbies"),
        ("electronics", "Electronics"), ("fashion_accessories", "Fashion Accessories"),
        ("fitness_product", "Fitness"), ("food_alcohol", "Food & Alcohol"), ("gifts", "Gift Ideas"),
        ("home_goods", "Home Goods"), ("kitchen", "Kitchen"), ("luggage", "Luggage & Baggage"),
        ("mens_fashion", "Men's Fashion"), ("mobile", "Mobile Devices & Accessories"),
        ("movies_music_games", "Movies, Music, & Games"), ("office_supplies", "Office Supplies"),
        ("tools", "Tools & Hardware"), ("toys", "Toys"), ("women_fashion", "Women's Fashion"),
    )),
    "retail-services": ("Retail & Services", (
        ("automotive-services", "Automotive Services"), ("food-grocery", "Food & Grocery"),
        ("home-services", "Home Services"), ("mens-clothing", "Men's Clothing"),
        ("photography-services", "Photography Services"), ("treats", "Treats"),
        ("womens-clothing", "Women's Clothing"),
    )),
    "special-interest": ("Special Interest", (
        ("baby", "Baby"), ("bridal", "Bridal"), ("college", "College"), ("gay", "Gay"), ("jewish", "Jewish"),
        ("kids", "Kids"), ("kosher", "Kosher"), ("pets", "Pets"), ("travel", "Travel"),
    )),
}

#: slug -> display name, for every parent and child
CATEGORY_NAMES = MappingProxyType(
    {parent: name for parent, (name, _) in _TREE.items()}
    | {slug: name for _, children in _TREE.values() for slug, name in children}
)
#: slug -> parent slug (a parent maps to itself), so every known slug has a top-level category
PARENT_OF = MappingProxyType(
    {parent: parent for parent in _TREE}
    | {slug: parent for parent, (_, children) in _TREE.items() for slug, _ in children}
)
PARENTS: tuple[str, ...] = tuple(sorted(_TREE))
CHILDREN: tuple[str, ...] = tuple(sorted(slug for _, children in _TREE.values() for slug, _ in children))


def categories_payload() -> list[dict[str, str | None]]:
    """The flat, alphabetical category list as `/v2/categories` serves it (§4.5)."""
    return [
        {"slug": slug, "name": CATEGORY_NAMES[slug], "parent_slug": _parent_or_none(slug)}
        for slug in sorted(CATEGORY_NAMES)
    ]


def _parent_or_none(slug: str) -> str | None:
    return None if PARENT_OF[slug] == slug else PARENT_OF[slug]
