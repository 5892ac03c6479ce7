"""1,000 malformed messages of 10+ kinds all land in the dead-letter table with their reason and
raw payload, while the streaming query keeps running and valid deals around them still land."""
from __future__ import annotations

import random
import time
from collections import Counter

import orjson
import pytest

from pipeline.sink import DealTablesSink
from streaming.deals_job import start_deals_stream
from tests import factories
from tests.integration.kafka_io import produce
from tests.integration.tables import assert_deal_tables_match, rows

pytestmark = pytest.mark.integration


def _with(raw: dict, **changes) -> str:
    return orjson.dumps({**raw, **changes}).decode()


def _without(raw: dict, field: str) -> str:
    return orjson.dumps({k: v for k, v in raw.items() if k != field}).decode()


def malformed(rng: random.Random, i: int) -> tuple[str, str]:
    """(raw payload, the reason the platform must give), for kind i % 12."""
    raw = factories.deal(rng, 9_000_000 + i)
    text = orjson.dumps(raw).decode()
    merchant = {**raw["merchant"], "latitude": 123.0, "longitude": 10.0}
    kinds = [
        ("", "empty payload"),
        (f"not json {i}", "payload is not a JSON object (malformed or truncated JSON)"),
        (text[: len(text) // 2], "payload is not a JSON object (malformed or truncated JSON)"),
        (f"[{i}, 2]", "payload is not a JSON object (malformed or truncated JSON)"),
        (_without(raw, "id"), "missing required field 'id'"),
        (_with(raw, price="cheap"), "field 'price' is not a number"),
        (_with(raw, price=-5.0, value=10.0), "negative price -5.0"),
        (_with(raw, price=50.0, value=20.0), "value 20.0 below price 50.0"),
        (_with(raw, discount_percentage=1.7), "discount_percentage not a fraction in [0, 1]: 1.7"),
        (_with(raw, category_slug="spaceships"), "unknown category 'spaceships'"),
        (_with(raw, merchant=merchant, online=False), "merchant coordinates out of range"),
        (_with(raw, updated_at="yesterday"), "field 'updated_at' is not an ISO-8601 time"),
    ]
    return kinds[i % len(kinds)]


def test_malformed_messages_become_dead_letters_and_the_query_keeps_running(
    spark, settings, kafka_bootstrap, clean_tables, tmp_path,
):
    rng = random.Random(31)
    bad = [malformed(rng, i) for i in range(1000)]
    good = factories.deals(200, seed=32)
    stream_settings = settings.model_copy(update={"topic_deals_raw": f"{settings.topic_deals_raw}_dlq"})
    sink = DealTablesSink(stream_settings)
    query = start_deals_stream(spark, stream_settings, checkpoint=(tmp_path / "ck").as_uri(), sink=sink)
    try:
        for start in range(0, 1000, 250):  # bad and good interleaved over several micro-batches
            produce(kafka_bootstrap, stream_settings.topic_deals_raw,
                    [p for p, _ in bad[start:start + 250]] + good[start // 5: start // 5 + 50])
        deadline = time.monotonic() + 240
        while sum(r.rows_in for r in sink.reports) < 1200 and time.monotonic() < deadline:
            assert query.exception() is None
            time.sleep(1)
        assert query.isActive
    finally:
        query.stop()
        sink.close()
    got = Counter((r["reason"], r["raw_payload"] or "") for r in rows(clean_tables, "dead_letters_by_day"))
    assert got == Counter((reason, payload) for payload, reason in bad)
    assert_deal_tables_match(clean_tables, good)
