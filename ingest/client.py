"""HTTP client for any Sqoot-v2-compatible deals API (the real URL, DiscountAPI, or the simulator).

One `DealsClient` per process, shared by all fetcher threads: a `requests.Session` whose connection pool
is sized to the thread count (keep-alive), one leaky-bucket rate limit, and bounded retries with
full-jitter exponential backoff on 429, 5xx, timeouts, resets and cut bodies, honouring `Retry-After`.
Every failure is a typed `DealsApiError` naming the URL and the status; nothing here kills a thread.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from conf import Settings
from ingest.api_model import (
    Category,
    Deal,
    DealsPage,
    DealsQuery,
    parse_categories,
    parse_deals_page,
    parse_single_deal,
)
from ingest.errors import (
    ApiTimeout,
    ApiUnreachable,
    AuthError,
    BadPayload,
    DealsApiError,
    NotFound,
    RateLimited,
    ServerError,
    TruncatedBody,
)
from ingest.ratelimit import LeakyBucket

log = logging.getLogger(__name__)

_USER_AGENT = "exstreamly-cheap-ingest/0.1"


class DealsClient:
    """GET `/categories`, `/deals` and `/deals/{id}` with rate limit, retries and typed errors."""

    def __init__(
        self,
        settings: Settings,
        *,
        pool_size: int | None = None,
        transport: BaseAdapter | None = None,
        limiter: LeakyBucket | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = settings.deals_api_url.rstrip("/")
        self._key = settings.deals_api_key.get_secret_value()
        self._auth = settings.deals_api_auth
        self._timeout = (min(3.05, settings.deals_api_timeout_s), settings.deals_api_timeout_s)
        self._attempts = settings.deals_api_max_attempts
        self._backoff = settings.deals_api_backoff_s
        self._backoff_max = settings.deals_api_backoff_max_s
        self._limiter = limiter or LeakyBucket(settings.deals_api_rate_per_s)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._session = self._new_session(transport, pool_size or settings.fetcher_threads)
        self._stats_lock = threading.Lock()
        self.stats: Counter[str] = Counter()

    def _new_session(self, transport: BaseAdapter | None, pool_size: int) -> requests.Session:
        session = requests.Session()
        # max_retries=0: retrying is ours (tenacity), so that every attempt passes the rate limiter
        adapter = transport or HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"Accept": "application/json", "User-Agent": _USER_AGENT})
        if self._auth == "header":
            session.headers["Authorization"] = f"api_key {self._key}"
        return session

    # -- endpoints -----------------------------------------------------------------------------------

    def categories(self) -> list[Category]:
        """The whole category list (`GET /categories`, never paginated)."""
        url, status, data, _, _ = self._get_json("/categories", {})
        return parse_categories(url, status, data)

    def deals(self, query: DealsQuery) -> DealsPage:
        """One page of `GET /deals`."""
        url, status, data, server_time, size = self._get_json("/deals", query.params())
        return parse_deals_page(url, status, data, server_time, size)

    def deal(self, deal_id: int) -> Deal:
        """One deal object (`GET /deals/{id}`); `NotFound` when the id is unknown."""
        url, status, data, _, _ = self._get_json(f"/deals/{int(deal_id)}", {})
        return parse_single_deal(url, status, data)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> DealsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------------------------

    def url_for(self, path: str, params: dict[str, str]) -> str:
        """The request URL; `%20` for spaces and `,`/`:` left bare, as Sqoot wanted (§3)."""
        if self._auth == "query":
            params = {"api_key": self._key, **params}
        query = urlencode(params, quote_via=quote, safe=",:")
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def _get_json(self, path: str, params: dict[str, str]) -> tuple[str, int, Any, datetime | None, int]:
        url = self.url_for(path, params)
        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, DealsApiError) and exc.retryable),
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(self._attempt, url, self._redact(url))

    def _attempt(self, url: str, safe_url: str) -> tuple[str, int, Any, datetime | None, int]:
        """One try; errors and results carry `safe_url`, the URL with the key masked."""
        self._limiter.acquire()
        self._count("requests")
        try:
            status, body, headers = self._send(url, safe_url)
            self._raise_for_status(safe_url, status, body, headers)
            data = _decode(safe_url, status, body, headers)
            return safe_url, status, data, _server_time(headers), len(body)
        except DealsApiError as exc:
            self._count(type(exc).__name__)
            raise

    def _send(self, url: str, safe_url: str) -> tuple[int, bytes, Any]:
        try:
            response = self._session.get(url, timeout=self._timeout, stream=True)
        except requests.Timeout as exc:
            raise ApiTimeout(f"deals API timed out after {self._timeout[1]} s", url=safe_url) from exc
        except requests.ConnectionError as exc:
            reason = f"cannot reach the deals API at {self.base_url} ({_root_cause(exc)})"
            raise ApiUnreachable(reason, url=safe_url) from exc
        status = response.status_code
        try:
            return status, response.content, response.headers
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as exc:
            reason = f"body ended early: {self._redact(str(exc))}"
            raise TruncatedBody(reason, url=safe_url, status=status) from exc
        except requests.exceptions.ContentDecodingError as exc:
            raise TruncatedBody(f"body cannot be decoded: {exc}", url=safe_url, status=status) from exc
        finally:
            response.close()

    def _raise_for_status(self, url: str, status: int, body: bytes, headers: Any) -> None:
        if 200 <= status < 300:
            return
        snippet = body[:160].decode("utf-8", "replace").strip()
        if status in (401, 403):
            raise AuthError(
                f"the deals API rejected the key ({snippet!r}); check EXS_DEALS_API_KEY", url=url, status=status
            )
        if status == 404:
            raise NotFound(f"not found: {snippet!r}", url=url, status=status)
        if status == 429:
            retry_after = _retry_after(headers.get("Retry-After"), _server_time(headers))
            raise RateLimited(f"rate limited (Retry-After {retry_after})", url=url, retry_after=retry_after)
        if status >= 500:
            raise ServerError(f"server error: {snippet!r}", url=url, status=status)
        raise DealsApiError(f"unexpected status: {snippet!r}", url=url, status=status)

    def _redact(self, text: str) -> str:
        """Mask the key: URLs end up in logs and error messages."""
        if not self._key:
            return text
        return text.replace(quote(self._key, safe=",:"), "***").replace(self._key, "***")

    # -- retry policy --------------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        """Full jitter: uniform(0, min(cap, base·2^n)); a Retry-After is a floor, still capped."""
        exc = state.outcome.exception() if state.outcome else None
        ceiling = min(self._backoff_max, self._backoff * 2 ** (state.attempt_number - 1))
        jitter = self._rng.uniform(0, ceiling)
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            # spread the threads that were all told the same Retry-After over one base interval
            return min(self._backoff_max, exc.retry_after + self._rng.uniform(0, self._backoff))
        return jitter

    def _before_sleep(self, state: RetryCallState) -> None:
        self._count("retries")
        exc = state.outcome.exception() if state.outcome else None
        log.warning("attempt %d failed, retrying: %s", state.attempt_number, exc)

    def _count(self, what: str) -> None:
        with self._stats_lock:
            self.stats[what] += 1


def _decode(url: str, status: int, body: bytes, headers: Any) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        ctype = headers.get("Content-Type", "?")
        if body.lstrip()[:1] in (b"{", b"["):
            raise TruncatedBody(
                f"JSON cut or malformed at byte {exc.pos} of {len(body)} ({ctype})", url=url, status=status
            ) from exc
        snippet = body[:120].decode("utf-8", "replace").strip()
        raise BadPayload(f"body is not JSON ({ctype}, {len(body)} bytes): {snippet!r}", url=url, status=status) from exc


def _root_cause(exc: BaseException) -> str:
    """`[Errno 111] Connection refused` rather than urllib3's nested retry wrappers."""
    match = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
    return match[0] if match else type(exc).__name__


def _server_time(headers: Any) -> datetime | None:
    """The server's clock from its `Date` header, so snapshots do not depend on ours."""
    value = headers.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _retry_after(value: str | None, server_now: datetime | None) -> float | None:
    """`Retry-After` as seconds: delta-seconds (fractions tolerated) or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (server_now or datetime.now(UTC))).total_seconds())
