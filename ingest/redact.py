"""Strip the deals-API key from a deal before it leaves the fetcher.

The API builds `url` and `image_url` from the caller's own key (`…/click?api_key=K`), so a deal
published untouched carries the key into Kafka, the lake, every deal table, the dead letters and
the GraphQL answers. Every string of the deal (merchant fields included) loses its `api_key`
query parameter, any parameter whose value is the key, and any other occurrence of the key.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote_plus

KEY_PARAMETERS = frozenset({"api_key", "apikey"})
#: A key this short could also be an ordinary word of a title: then only parameters are removed.
MIN_REPLACED_KEY = 4
REDACTED = "REDACTED"
_QUERY = re.compile(r"\?([^#]*)")


def without_secret(value: Any, secret: str) -> Any:
    """`value` (a deal object, or any part of one) with the key removed from every string in it."""
    if isinstance(value, str):
        return _clean_text(value, secret)
    if isinstance(value, dict):
        return {key: without_secret(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [without_secret(item, secret) for item in value]
    return value


def _clean_text(text: str, secret: str) -> str:
    if "?" in text:
        text = _QUERY.sub(lambda match: _clean_query(match.group(1), secret), text, count=1)
    if len(secret) >= MIN_REPLACED_KEY:
        for form in dict.fromkeys((secret, quote(secret, safe=""))):
            text = text.replace(form, REDACTED)
    return text


def _clean_query(query: str, secret: str) -> str:
    kept = [part for part in re.split(r"[&;]", query) if part and not _names_key(part, secret)]
    return "?" + "&".join(kept) if kept else ""


def _names_key(parameter: str, secret: str) -> bool:
    name, _, value = parameter.partition("=")
    return unquote_plus(name).strip().lower() in KEY_PARAMETERS or (bool(secret) and unquote_plus(value) == secret)
