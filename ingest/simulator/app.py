"""The simulator's HTTP face: Sqoot v2 routes under `/v2` (§4, §10) and ground truth under `/_truth`.

Every `/v2` answer goes through the same gate: server-side rate limit, injected fault, latency, key check.
The `Date` header carries the *simulated* clock, as a real server's carries its own.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ingest.api_model import parse_iso
from ingest.simulator.faults import HTML_503, HTML_MAINTENANCE, FaultInjector, TokenBucket, retry_after_header
from ingest.simulator.search import parse_query_string, to_query
from ingest.simulator.service import Simulator
from ingest.simulator.values import PROVIDER_NAMES
from pipeline.taxonomy import categories_payload

_JSON = "application/json; charset=utf-8"
# smallest JFIF preamble + end marker: enough for clients that sniff the signature (§4.4)
_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


class SimulatorApp:
    """Holds the gate's state; `starlette()` builds the ASGI app."""

    def __init__(self, sim: Simulator) -> None:
        config = sim.config
        self.sim = sim
        self._faults = FaultInjector(config.faults, random.Random(f"{config.seed}:faults"))
        self._latency_rng = random.Random(f"{config.seed}:latency")
        burst = config.rate_burst or max(1, round(config.rate_limit_per_s / 10))
        self._bucket = TokenBucket(config.rate_limit_per_s, burst) if config.rate_limit_per_s else None
        self.served: dict[str, int] = {}

    def starlette(self) -> Starlette:
        v2 = [
            ("/deals", self.deals),
            ("/deals/{deal_id:int}", self.deal),
            ("/deals/{deal_id:int}/click", self.click),
            ("/deals/{deal_id:int}/image", self.image),
            ("/categories", self.categories),
            ("/providers", self.providers),
        ]
        routes = [
            Route(f"/v2{path}{slash}", self._gated(handler)) for path, handler in v2 for slash in ("", "/")
        ]
        routes += [
            Route("/_truth/clock", self.truth_clock),
            Route("/_truth/live", self.truth_live),
            Route("/_truth/deals/{deal_id:int}", self.truth_deal),
            Route("/_truth/export", self.truth_export),
            Route("/_truth/discounts", self.truth_discounts),
        ]
        return Starlette(routes=routes)

    # -- the gate --------------------------------------------------------------------------------------

    def _gated(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            began = time.perf_counter()
            response = await self._gate(request, handler)
            response.headers["X-Request-Id"] = uuid.uuid4().hex
            response.headers["X-Runtime"] = f"{time.perf_counter() - began:.6f}"
            response.headers["Date"] = formatdate(self.sim.now(), usegmt=True)
            self.served[str(response.status_code)] = self.served.get(str(response.status_code), 0) + 1
            return response

        return endpoint

    async def _gate(self, request: Request, handler: Any) -> Response:
        wait = self._bucket.take() if self._bucket else 0.0
        fault, extra = self._faults.draw()
        await asyncio.sleep(self._latency() + extra)
        if wait:
            return _error(429, "rate limit exceeded", {"Retry-After": retry_after_header(wait)})
        if fault == "rate_limited":
            return _error(429, "rate limit exceeded", {"Retry-After": str(self._faults.rates.retry_after_s)})
        if fault == "unavailable":
            return Response(HTML_503, 503, media_type="text/html")
        if fault == "html":
            return Response(HTML_MAINTENANCE, 200, media_type="text/html")
        params = parse_query_string(request.scope["query_string"].decode("latin-1"))
        key = params.get("api_key") or _header_key(request)
        if key not in self.sim.config.keys:
            return _error(401, "invalid or missing api_key" if key else "missing api_key")
        response = handler(request, params, key)
        if fault == "truncated" and response.status_code == 200:
            return Response(response.body[: max(1, len(response.body) // 2)], 200, media_type=_JSON)
        return response

    def _latency(self) -> float:
        config = self.sim.config
        jitter = self._latency_rng.uniform(0, config.latency_jitter_s) if config.latency_jitter_s else 0.0
        return config.latency_s + jitter

    # -- /v2 handlers ----------------------------------------------------------------------------------

    def deals(self, request: Request, params: dict[str, str], key: str) -> Response:
        query = to_query(params)
        total, wires, _ = self.sim.search(query)
        head = orjson.dumps({"query": query.echo(total)})
        body = head[:-1] + b',"deals":[' + b",".join(wires) + b"]}"
        return Response(_personalise(body, request, key), 200, media_type=_JSON)

    def deal(self, request: Request, params: dict[str, str], key: str) -> Response:
        wire, _ = self.sim.deal(request.path_params["deal_id"])
        if wire is None:
            return _error(404, f"deal {request.path_params['deal_id']} not found")
        return Response(_personalise(wire, request, key), 200, media_type=_JSON)

    def click(self, request: Request, params: dict[str, str], key: str) -> Response:
        wire, _ = self.sim.deal(request.path_params["deal_id"])
        if wire is None:
            return _error(404, "deal not found")
        return RedirectResponse(orjson.loads(wire)["deal"]["untracked_url"], status_code=302)

    def image(self, request: Request, params: dict[str, str], key: str) -> Response:
        wire, _ = self.sim.deal(request.path_params["deal_id"])
        return Response(_JPEG, 200, media_type="image/jpeg") if wire else _error(404, "deal not found")

    def categories(self, request: Request, params: dict[str, str], key: str) -> Response:
        body = {"categories": [{"category": c} for c in categories_payload()]}
        return Response(orjson.dumps(body), 200, media_type=_JSON)

    def providers(self, request: Request, params: dict[str, str], key: str) -> Response:
        body = {
            "providers": [{"provider": {"slug": s, "name": n}} for s, n in sorted(PROVIDER_NAMES.items())]
        }
        return Response(orjson.dumps(body), 200, media_type=_JSON)

    # -- ground truth (outside /v2: no gate, no faults) ------------------------------------------------

    async def truth_clock(self, request: Request) -> Response:
        now = self.sim.now()
        return _json(
            {"ts": now, "now": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "live": self.sim.size()}
        )

    async def truth_live(self, request: Request) -> Response:
        """`?at=T` → ids live at T; `?from=A&to=B` → ids live during the whole of [A, B]."""
        q = request.query_params
        if "from" in q and "to" in q:
            ids = self.sim.live_throughout(_when(q["from"]), _when(q["to"]))
        else:
            ids = self.sim.live_at(_when(q["at"]) if "at" in q else self.sim.now())
        return _json({"count": len(ids), "ids": sorted(ids)})

    async def truth_deal(self, request: Request) -> Response:
        versions = self.sim.versions(request.path_params["deal_id"])
        return _json({"versions": [v.__dict__ for v in versions]})

    async def truth_export(self, request: Request) -> Response:
        lines = b"".join(orjson.dumps(v.__dict__) + b"\n" for v in self.sim.all_versions())
        return Response(lines, 200, media_type="application/x-ndjson")

    async def truth_discounts(self, request: Request) -> Response:
        """Per deal version: is its discount genuine, the true discount, and the pattern it follows."""
        lines = b"".join(orjson.dumps(v.discount_truth()) + b"\n" for v in self.sim.all_versions())
        return Response(lines, 200, media_type="application/x-ndjson")


def _personalise(body: bytes, request: Request, key: str) -> bytes:
    """Deal URLs carry the caller's own public key and this server's address (§4.3, §4.4)."""
    base = f"{request.url.scheme}://{request.url.netloc}/v2".encode()
    return body.replace(b"__BASE__", base).replace(b"__KEY__", quote(key, safe="").encode())


def _header_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "api_key" else None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"error": message}), status, headers=headers, media_type=_JSON)


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), 200, media_type=_JSON)


def _when(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return parse_iso(raw).timestamp()
