"""The graphql-transport-ws handler with the API's bounds on a connection.

Strawberry's handler already enforces `connection_init` within a deadline and a cap of operations
per connection; this subclass adds a maximum lifetime, an idle timeout (no operation in flight),
the viewer from the `connection_init` payload, and fresh DataLoaders for every operation.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from graphql_api.auth import viewer_of
from graphql_api.context import Context
from graphql_api.errors import Unauthenticated

log = logging.getLogger(__name__)
IDLE_CLOSE = (1000, "idle timeout")
LIFETIME_CLOSE = (1001, "maximum connection lifetime reached")
AUTHORIZATION = "Authorization"
WATCH_EVERY_S = 0.5


def authenticate(context: Context) -> None:
    """Set the viewer from the `connection_init` payload's Authorization; reject a bad token."""
    params = context.connection_params if isinstance(context.connection_params, dict) else {}
    value = params.get(AUTHORIZATION, params.get(AUTHORIZATION.lower()))
    try:
        context.viewer = viewer_of(context.settings, value if isinstance(value, str) else None)
    except Unauthenticated as exc:
        log.info("websocket connection_init refused: %s", exc)
        raise ConnectionRejectionError({"message": str(exc)}) from exc


class BoundedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with a maximum lifetime and an idle timeout per connection."""

    _watchdog: asyncio.Task[None] | None = None

    def on_request_accepted(self) -> None:
        super().on_request_accepted()
        self._watchdog = asyncio.create_task(self._close_when_idle_or_old(), name="ws-watchdog")

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        self.context.reset_loaders()  # one context serves the connection: caches must not span operations
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with suppress(asyncio.CancelledError):
                await self._watchdog
        await super().shutdown()

    async def _close_when_idle_or_old(self) -> None:
        settings = self.context.settings
        loop = asyncio.get_running_loop()
        opened = busy = loop.time()
        while True:
            await asyncio.sleep(min(WATCH_EVERY_S, settings.api_ws_idle_timeout_s))
            now = loop.time()
            if self.operations:
                busy = now
            if now - opened >= settings.api_ws_max_lifetime_s:
                await self.websocket.close(*LIFETIME_CLOSE)
                return
            if now - busy >= settings.api_ws_idle_timeout_s:
                await self.websocket.close(*IDLE_CLOSE)
                return
