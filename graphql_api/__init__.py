"""The GraphQL API: Strawberry on Starlette over the Cassandra query tables.

Layout: `app.py` (Starlette app factory, lifespan, health), `repository.py` (the only module with
CQL), `schema.py` (root Query and Schema), one module per GraphQL type, `context.py` (per-request
context and DataLoaders), `search.py` (deal search plans and pagination), `cli.py` (`exstreamly api`).
"""
from __future__ import annotations

from graphql_api.app import create_app

__all__ = ["create_app"]
