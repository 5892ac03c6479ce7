"""A crawl with the deals-API key `s3cret`: the key appears in no topic, lake file, table or API answer.

The simulator writes the caller's key into every deal's `url` and `image_url` (as the real API did);
the fetchers must strip it before publishing. The crawl runs for real (simulator over HTTP, fetchers,
Kafka), then the archive job (lake) and the batch deals job (tables), then the API over the tables.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from batch.deals_job import run_deals_batch
from conf.clients import delete_topics
from conf.settings import Settings
from graphql_api.app import create_app
from ingest.crawl import crawl
from ingest.readback import read_topic
from ingest.simulator import SimConfig, Simulator, SimulatorServer
from streaming.archive_job import start_archive
from tests.integration.api_client import data

pytestmark = pytest.mark.integration
SECRET = "s3cret"


@pytest.fixture(scope="module")
def crawled(settings: Settings, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[tuple[Settings, str]]:
    run = uuid.uuid4().hex[:8]
    sim = Simulator(SimConfig(seed=17, deals=400, keys=(SECRET,), latency_s=0.0))
    with SimulatorServer(sim) as server:
        made = settings.model_copy(update={
            "deals_api_url": server.url, "deals_api_key": SecretStr(SECRET), "deals_api_rate_per_s": 5000.0,
            "topic_deals_raw": f"itest_secret_raw_{run}", "topic_deal_pages": f"itest_secret_pages_{run}",
            "fetcher_group": f"itest_secret_{run}", "fetcher_threads": 4,
            "lake_uri": (tmp_path_factory.mktemp("secret") / "lake").as_uri()})
        crawl(made, threading.Event())
        try:
            yield made, server.url
        finally:
            delete_topics(made, [made.topic_deals_raw, made.topic_deal_pages])


def test_the_simulator_really_puts_the_key_into_urls(crawled: tuple[Settings, str]) -> None:
    import httpx

    made, url = crawled
    body = httpx.get(f"{url}/deals", params={"api_key": SECRET, "per_page": 1}).text
    assert f"api_key={SECRET}" in body  # so the checks below are not vacuous


def test_no_topic_holds_the_key(crawled: tuple[Settings, str]) -> None:
    made, url = crawled
    records = read_topic(made, made.topic_deals_raw)
    assert len(records) >= 400
    assert not any(SECRET.encode() in value for _key, value in records)
    deals = [orjson.loads(value) for _key, value in records]
    assert all(d["url"] == f"{url}/deals/{d['id']}/click" for d in deals)
    assert not any(SECRET.encode() in value for _key, value in read_topic(made, made.topic_deal_pages))


def test_no_lake_file_table_or_api_answer_holds_the_key(crawled: tuple[Settings, str], spark: Any,
                                                        clean_tables: Any) -> None:
    made, url = crawled
    archive = start_archive(spark, made, made.topic_deals_raw, available_now=True)
    archive.awaitTermination(timeout=300)
    archive.stop()
    lake = spark.read.parquet(made.lake_dir(made.topic_deals_raw))
    archived = [orjson.dumps(row.asDict(), default=str) for row in lake.collect()]
    assert len(archived) >= 400 and not any(SECRET.encode() in row for row in archived)

    run_deals_batch(spark, made)
    tables = [r.table_name for r in clean_tables.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (made.keyspace,))]
    stored = [orjson.dumps(dict(row._asdict()), default=str) for t in tables
              for row in clean_tables.execute(f"SELECT * FROM {made.keyspace}.{t}")]
    assert len(stored) >= 400 and not any(SECRET.encode() in row for row in stored)

    with TestClient(create_app(made)) as client:
        listed = data(client, "{ deals(first: 100) { nodes { id url imageUrl untrackedUrl } } }")["deals"]["nodes"]
        one = data(client, f'{{ deal(id: "{listed[0]["id"]}") {{ url imageUrl merchant {{ url }} }} }}')
    answers = orjson.dumps([listed, one])
    assert listed and SECRET.encode() not in answers
    assert one["deal"]["url"] == f"{url}/deals/{listed[0]['id']}/click"
