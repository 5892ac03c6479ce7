"""The Starlette application: GraphQL at /graphql (GraphiQL in dev), /healthz, CORS from settings.

`create_app(settings)` is the factory uvicorn serves (`exstreamly api`). Its lifespan connects to
Cassandra and prepares every statement once; if Cassandra is down the app still starts, answers a
STORE_UNAVAILABLE error, and reconnects in the background.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from conf.settings import Settings
from graphql_api.context import Context
from graphql_api.errors import StoreUnavailable
from graphql_api.repository import Repository
from graphql_api.schema import build_schema

log = logging.getLogger(__name__)


class DealsGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with the typed per-request context and orjson encoding."""

    def __init__(self, settings: Settings, repository: Repository) -> None:
        is_dev = settings.api_profile == "dev"
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if is_dev else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allowed_origins=settings.api_cors_origins,
        )
        self.settings = settings
        self.repository = repository

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return Context(request=request, response=response, settings=self.settings, repository=self.repository)

    def encode_json(self, data: object) -> str:
        # str, not bytes: websocket messages must go out as text frames (graphql-transport-ws)
        return orjson.dumps(data).decode()


def create_app(settings: Settings) -> Starlette:
    """The API application for `settings` (read once by the caller)."""
    repository = Repository(settings)
    graphql = DealsGraphQL(settings, repository)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await repository.start()
        log.info("API ready (profile %s, keyspace %s)", settings.api_profile, settings.keyspace)
        try:
            yield
        finally:
            await repository.close()

    async def healthz(_request: Request) -> Response:
        try:
            version = await repository.ping()
        except StoreUnavailable as exc:
            return JSONResponse({"status": "unavailable", "cassandra": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "cassandra": version, "keyspace": settings.keyspace})

    async def home(_request: Request) -> Response:
        return RedirectResponse("/graphql")

    app = Starlette(
        routes=[Route("/", home), Route("/healthz", healthz), Route("/graphql", graphql),
                WebSocketRoute("/graphql", graphql)],
        middleware=[Middleware(
            CORSMiddleware, allow_origins=list(settings.api_cors_origins),
            allow_credentials=settings.api_cors_credentials, allow_methods=["GET", "POST"],
            allow_headers=["content-type", "authorization"],
        )],
        lifespan=lifespan,
    )
    app.state.repository = repository
    return app
