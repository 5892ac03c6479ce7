"""The dashboard's built files and the offline GraphiQL page, served from `dashboard/dist`.

`./dev` builds `dashboard/` with `npm ci && npm run build` (the bundle is never committed). Every
page path of the single-page app answers `index.html`; hashed assets live under `/assets`. Without
a build the pages answer 503 with the command that builds them — never a page that loads from a CDN.
"""
from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

DIST = Path(__file__).resolve().parent.parent / "dashboard" / "dist"
#: Paths of the single-page app; the app itself routes between them.
PAGE_PATHS = ("/", "/search", "/deal/{deal_id}", "/merchants", "/live", "/map", "/for-you")
#: Hashed file names never change content, so browsers may keep them.
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dashboard not built</title>
</head><body><main><h1>The dashboard is not built</h1><p>Build it with <code>./dev run</code>, or
<code>cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build</code>; the API serves <code>{dist}</code>.
</p></main></body></html>"""


class AssetFiles(StaticFiles):
    """StaticFiles whose answers may be cached for a year (every name carries a content hash)."""

    def file_response(self, full_path: PathLike, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = IMMUTABLE
        return response


def built_page(dist: Path, name: str) -> Response:
    """One HTML page of the build, or a 503 page that says how to build it."""
    page = dist / name
    if not page.is_file():
        return HTMLResponse(NOT_BUILT.format(dist=dist), status_code=503)
    return FileResponse(page, media_type="text/html", headers={"cache-control": "no-cache"})


def dashboard_routes(dist: Path = DIST) -> list[BaseRoute]:
    """The app's page paths and its assets (add them after the API's own routes)."""

    async def index(_request: Request) -> Response:
        return built_page(dist, "index.html")

    return [*(Route(path, index) for path in PAGE_PATHS),
            Mount("/assets", app=AssetFiles(directory=dist / "assets", check_dir=False), name="assets")]


def graphiql_page(dist: Path = DIST) -> Response:
    """GraphiQL from the dashboard build (React, GraphiQL and graphql-ws bundled; nothing from a CDN)."""
    return built_page(dist, "graphiql.html")
