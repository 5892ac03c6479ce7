"""`Category`: a node of the two-level category tree (pipeline/taxonomy.py), with its deal count."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from graphql_api.context import CATEGORY_COUNT_CAP, Context
from pipeline.taxonomy import CATEGORY_NAMES, CHILDREN, PARENT_OF


@strawberry.type(description="A deal category. Top-level categories have children; a deal is listed under "
                             "its own category and under that category's parent.")
class Category:
    slug: str = strawberry.field(description="Stable identifier, e.g. `restaurants`.")
    name: str = strawberry.field(description="Display name, e.g. `Restaurants`.")
    parent_slug: str | None = strawberry.field(description="Slug of the parent; null for a top-level category.")

    @classmethod
    def from_slug(cls, slug: str) -> Category:
        """The category of a known slug (see `pipeline.taxonomy`)."""
        parent = PARENT_OF[slug]
        return cls(slug=slug, name=CATEGORY_NAMES[slug], parent_slug=None if parent == slug else parent)

    @strawberry.field(description="The parent category; null for a top-level category.")
    def parent(self) -> Category | None:
        return None if self.parent_slug is None else Category.from_slug(self.parent_slug)

    @strawberry.field(description="Sub-categories, alphabetical by slug; empty below the top level.")
    def children(self) -> list[Category]:
        if self.parent_slug is not None:
            return []
        return [Category.from_slug(s) for s in CHILDREN if PARENT_OF[s] == self.slug]

    @strawberry.field(description=f"Live deals listed under this category (a parent counts its children's "
                                  f"deals), counted up to {CATEGORY_COUNT_CAP}; refreshed every few seconds.")
    async def deal_count(self, info: Info[Context, None]) -> int:
        return await info.context.category_counts.get(self.slug)
