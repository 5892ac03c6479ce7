"""The Starlette application: GraphQL at /graphql (GraphiQL in dev), /healthz, the dashboard at /, CORS.

`create_app(settings)` is the factory uvicorn serves (`exstreamly api`). Its lifespan connects to
Cassandra and prepares every statement once; if Cassandra is down the app still starts, answers a
STORE_UNAVAILABLE error, and reconnects in the background. The bearer token is checked once, when
the context is built (HTTP) or at `connection_init` (websocket); request bodies have a byte limit.
"""
from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from conf.settings import Settings, load_settings
from graphql_api.auth import viewer_of
from graphql_api.body_limit import BodyLimit
from graphql_api.context import CategoryCounts, Context, category_counts
from graphql_api.dashboard import dashboard_routes, graphiql_page
from graphql_api.errors import StoreUnavailable, Unauthenticated
from graphql_api.feeds import FeedHub
from graphql_api.repository import Repository
from graphql_api.response_cache import ResponseCache
from graphql_api.schema import build_schema
from graphql_api.websocket import BoundedTransportWS, authenticate

log = logging.getLogger(__name__)


class DealsGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with the typed per-request context, bounded websockets and orjson."""

    graphql_transport_ws_handler_class = BoundedTransportWS

    def __init__(self, settings: Settings, repository: Repository) -> None:
        is_dev = settings.api_profile == "dev"
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if is_dev else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=settings.api_cors_origins,
            connection_init_wait_timeout=timedelta(seconds=settings.api_ws_init_timeout_s),
            max_subscriptions_per_connection=settings.api_ws_max_subscriptions,
        )
        self.settings = settings
        self.repository = repository
        self.category_counts: CategoryCounts = category_counts(repository, settings)
        self.feeds = FeedHub(settings.api_ws_max_server_subscriptions)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        context = Context(request=request, response=response, settings=self.settings, repository=self.repository,
                          category_counts=self.category_counts, feeds=self.feeds)
        if isinstance(request, Request):  # a websocket authenticates at connection_init instead
            try:
                context.viewer = viewer_of(self.settings, request.headers.get("authorization"))
            except Unauthenticated as exc:
                raise HTTPException(401, str(exc)) from exc
        return context

    async def on_ws_connect(self, context: Context) -> None:
        authenticate(context)

    async def render_graphql_ide(self, request: Request) -> Response:
        # strawberry's own page loads React and GraphiQL from a CDN; this one comes from our build
        return graphiql_page()

    def encode_json(self, data: object) -> str:
        # str, not bytes: websocket messages must go out as text frames (graphql-transport-ws)
        return orjson.dumps(data).decode()


def app_from_environment() -> Starlette:
    """The API application for the settings of the environment: what each uvicorn worker process builds."""
    return create_app(load_settings())


def freeze_start_up_objects() -> None:
    """Put what start-up made (modules, the schema, the Cassandra driver's metadata) out of the garbage
    collector's reach, as pre-fork servers do.

    A full collection walks every tracked object with the event loop stopped. Without this, under 50
    req/s each worker ran one every ~3 s, each ~90 ms on this machine, and every request that arrived
    meanwhile waited for it (bench.load's p99); after it, a full collection walks only what requests
    made since. Nothing is lost: frozen objects are still freed by reference counting, only their
    cycles are never collected, and start-up leaves none worth collecting (`gc.collect()` first).
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings) -> Starlette:
    """The API application for `settings` (read once by the caller)."""
    repository = Repository(settings)
    graphql = DealsGraphQL(settings, repository)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await repository.start()
        freeze_start_up_objects()
        log.info("API ready (profile %s, keyspace %s)", settings.api_profile, settings.keyspace)
        try:
            yield
        finally:
            await repository.close()

    async def healthz(_request: Request) -> Response:
        # up or down only: versions and names would tell a stranger what to attack
        try:
            await repository.ping()
        except StoreUnavailable:
            return JSONResponse({"status": "down"}, status_code=503)
        return JSONResponse({"status": "up"})

    app = Starlette(
        routes=[Route("/healthz", healthz), Route("/graphql", graphql), WebSocketRoute("/graphql", graphql),
                *dashboard_routes()],
        middleware=[Middleware(
            CORSMiddleware, allow_origins=list(settings.api_cors_origins),
            allow_credentials=settings.api_cors_credentials, allow_methods=["GET", "POST"],
            allow_headers=["content-type", "authorization"],
        ), Middleware(BodyLimit, max_bytes=settings.api_max_body_bytes),
            Middleware(ResponseCache, ttl_s=settings.api_response_cache_s)],
        lifespan=lifespan,
    )
    app.state.repository = repository
    app.state.graphql = graphql
    return app
