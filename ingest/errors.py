"""Errors of the ingestion path (deals API client, planner, fetchers, publisher).

    IngestError
     ├── DealsApiError            (names the URL and the HTTP status, or None before a response)
     │    ├── ApiUnreachable      (connection refused, DNS, reset; retried, then raised)
     │    │    └── ApiTimeout     (connect or read timeout; retried)
     │    ├── AuthError           (401/403: missing or bad key; never retried)
     │    ├── NotFound            (404: unknown deal id or path; never retried)
     │    ├── RateLimited         (429; carries Retry-After seconds; retried)
     │    ├── ServerError         (5xx; retried)
     │    └── BadPayload          (a 2xx whose body is not the expected JSON)
     │         └── TruncatedBody  (the body ended early or its JSON is cut; retried)
     ├── UnknownCategory          (a slug that /categories does not list)
     ├── InvalidWorkMessage       (a deal_pages record that is not a work message)
     └── PublishError             (Kafka did not acknowledge a record)

`retryable` says whether the client's backoff loop may try the same request again.
"""
from __future__ import annotations


class IngestError(RuntimeError):
    """Base class of every ingestion failure."""


class DealsApiError(IngestError):
    """A deals API call failed; `url` and `status` say which call and how."""

    retryable = False

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(f"{message} [GET {url} -> {status if status is not None else 'no response'}]")
        self.url = url
        self.status = status


class ApiUnreachable(DealsApiError):
    """No HTTP response at all: the API host is down, refuses or resets connections."""

    retryable = True


class ApiTimeout(ApiUnreachable):
    """The API did not answer within the configured timeout."""


class AuthError(DealsApiError):
    """The API rejected the key (401/403); check EXS_DEALS_API_KEY and EXS_DEALS_API_AUTH."""


class NotFound(DealsApiError):
    """404: the deal id or the path does not exist."""


class RateLimited(DealsApiError):
    """429 Too Many Requests; `retry_after` is the server's requested pause in seconds, if it sent one."""

    retryable = True

    def __init__(self, message: str, *, url: str, status: int | None = 429, retry_after: float | None = None):
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


class ServerError(DealsApiError):
    """A 5xx answer (often an HTML error page from a proxy)."""

    retryable = True


class BadPayload(DealsApiError):
    """A 2xx answer whose body is not JSON, or JSON of the wrong shape."""

    retryable = True  # seen as transient in practice (maintenance pages); bounded by the attempt limit


class TruncatedBody(BadPayload):
    """The body stopped before its end: the connection closed early or the JSON is cut off."""


class UnknownCategory(IngestError, ValueError):
    """A category slug the API's /categories list does not contain."""


class InvalidWorkMessage(IngestError, ValueError):
    """A deal_pages record that does not parse as a work message."""


class PublishError(IngestError):
    """Kafka did not acknowledge a record; the work message stays uncommitted and is redelivered."""
