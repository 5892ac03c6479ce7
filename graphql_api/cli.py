"""`exstreamly api`: serve the GraphQL API with uvicorn; `exstreamly api export-schema` writes the SDL;
`exstreamly token create` signs a bearer token for local use."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from conf.settings import Settings, load_settings
from graphql_api.auth import Role, create_token

log = logging.getLogger(__name__)
SCHEMA_SDL = Path(__file__).resolve().parent / "schema.graphql"


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options that bound a client (the same limits as HTTP bodies for websocket messages)."""
    return {"ws_max_size": settings.api_max_body_bytes}


def schema_sdl() -> str:
    """The schema in SDL, as committed to `graphql_api/schema.graphql`."""
    from strawberry.printer import print_schema

    from graphql_api.schema import build_schema

    return print_schema(build_schema(load_settings())) + "\n"


@click.group("api", invoke_without_command=True)
@click.option("--host", default=None, help="Interface to bind [default: EXS_API_HOST, 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to bind [default: EXS_API_PORT, 8000].")
@click.pass_context
def api(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql in the dev profile) with EXS_API_WORKERS uvicorn workers."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    # --host and --port go through the environment: every worker process reads its settings from there,
    # and a public interface without EXS_API_PROFILE then means production in each of them
    os.environ.update({"EXS_API_HOST": host} if host else {})
    os.environ.update({"EXS_API_PORT": str(port)} if port else {})
    settings = load_settings()
    host, port = settings.api_host, settings.api_port
    click.echo(f"GraphQL API on http://{host}:{port}/graphql (profile {settings.api_profile}, "
               f"keyspace {settings.keyspace}, {settings.api_workers} workers); health at /healthz")
    uvicorn.run("graphql_api.app:app_from_environment", factory=True, workers=settings.api_workers, host=host,
                port=port, log_level="info", access_log=False, **server_options(settings))


@api.command("export-schema")
@click.option("--check", is_flag=True, help="Exit 1 if the committed SDL differs instead of writing it.")
def export_schema(check: bool) -> None:
    """Write the schema's SDL to graphql_api/schema.graphql (review schema changes in diffs)."""
    sdl = schema_sdl()
    if check:
        current = SCHEMA_SDL.read_text() if SCHEMA_SDL.exists() else ""
        if current != sdl:
            click.echo(f"{SCHEMA_SDL} is out of date; run `exstreamly api export-schema`", err=True)
            sys.exit(1)
        click.echo(f"{SCHEMA_SDL} is up to date")
        return
    SCHEMA_SDL.write_text(sdl)
    click.echo(f"wrote {SCHEMA_SDL} ({len(sdl.splitlines())} lines)")


@click.group("token")
def token() -> None:
    """Bearer tokens of the GraphQL API (signed with EXS_API_TOKEN_SECRET)."""


@token.command("create")
@click.option("--user", "user_id", type=click.IntRange(min=1), required=True,
              help="The user id (the activity simulator's users are 1..EXS_ACTIVITY_USERS).")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.USER.value, show_default=True,
              help="operator also reads deadLetters and lateEvents.")
@click.option("--ttl-s", type=click.IntRange(min=60), default=None,
              help="Lifetime in seconds [default: EXS_API_TOKEN_TTL_S, 86400].")
def token_create(user_id: int, role: str, ttl_s: int | None) -> None:
    """Print a signed token; send it as `Authorization: Bearer <token>` (or in connection_init)."""
    click.echo(create_token(load_settings(), user_id, Role(role), ttl_s=ttl_s))
