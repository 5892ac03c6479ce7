"""A signed webhook POST, retried with exponential backoff (tenacity); the caller dead-letters a failure.

The signature follows Stripe's scheme: header `X-Exstreamly-Signature: t=<unix seconds>,v1=<hex>` where
`<hex>` is HMAC-SHA256, keyed by the user's webhook secret, of `"<t>." + body`. A receiver recomputes
it and refuses an old `t` (a replayed request).
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from conf.settings import Settings

SIGNATURE_HEADER = "X-Exstreamly-Signature"


class WebhookFailed(Exception):
    """The receiver did not accept the notice (after the last attempt, when raised by `post_signed`)."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


def signature(secret: str, body: bytes, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def _post_once(session: requests.Session, url: str, secret: str, body: bytes, timeout_s: float) -> None:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body, int(time.time()))}
    try:
        response = session.post(url, data=body, headers=headers, timeout=timeout_s, allow_redirects=False)
    except requests.RequestException as exc:
        raise WebhookFailed(f"{type(exc).__name__}: {exc}"[:300], retryable=True) from exc
    if response.status_code >= 300:
        # a 4xx other than 408/429 will not get better by retrying
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise WebhookFailed(f"HTTP {response.status_code}", retryable=retryable)


def post_signed(session: requests.Session, url: str, secret: str, body: bytes, settings: Settings,
                sleep: Callable[[float], None] = time.sleep) -> int:
    """POST until accepted; returns the attempts used; raises the last WebhookFailed."""
    retrying = Retrying(
        retry=retry_if_exception(lambda exc: isinstance(exc, WebhookFailed) and exc.retryable),
        stop=stop_after_attempt(settings.webhook_max_attempts),
        wait=wait_exponential_jitter(multiplier=settings.webhook_backoff_s, max=60.0),
        sleep=sleep, reraise=True)
    for attempt in retrying:
        with attempt:
            _post_once(session, url, secret, body, settings.webhook_timeout_s)
        if attempt.retry_state.outcome is not None and not attempt.retry_state.outcome.failed:
            return attempt.retry_state.attempt_number
    raise AssertionError("unreachable: tenacity either returns or reraises")  # pragma: no cover
