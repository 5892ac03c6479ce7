"""Records gone from Kafka stop a query with a clear message; a new local Kafka resets checkpoints on purpose.

Real Kafka and Spark: a query reads a topic to its end, the topic is deleted and re-created with fewer
records, and the same query (same checkpoint) is started again.
"""
from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

import pytest
from pyspark.errors import StreamingQueryException
from pyspark.sql.streaming import StreamingQuery

from conf.clients import delete_topics, ensure_topics, kafka_admin, kafka_cluster_id
from conf.settings import Settings
from stack.local_run import KAFKA_CLUSTER_MARK, checkpoints_for_this_kafka
from streaming.data_loss import EXIT_DATA_LOSS, data_loss_message, stop_clearly_on_data_loss
from streaming.kafka_source import read_topic
from tests.integration.kafka_io import produce

pytestmark = pytest.mark.integration
FIRST_RECORDS, RECREATED_RECORDS = 20, 3
QUERY = "data-loss-probe"


def start_reading(spark, settings: Settings, topic: str, checkpoint: str) -> StreamingQuery:
    """A query over `topic` that reads what is there (availableNow), on `checkpoint`."""
    return (read_topic(spark, settings, topic).writeStream.format("noop").queryName(QUERY)
            .option("checkpointLocation", checkpoint).trigger(availableNow=True).start())


def read_to_end(spark, settings: Settings, topic: str, checkpoint: str) -> None:
    start_reading(spark, settings, topic, checkpoint).awaitTermination()


def recreate(settings: Settings, topic: str) -> None:
    """Delete `topic` and create it again, empty (deletion completes in the background)."""
    delete_topics(settings, [topic])
    deadline = time.monotonic() + 60
    admin = kafka_admin(settings)
    try:
        while topic in admin.list_topics():
            assert time.monotonic() < deadline, f"topic {topic} still listed 60 s after its deletion"
            time.sleep(0.5)
    finally:
        admin.close()
    ensure_topics(settings, {topic: 1})


@pytest.fixture()
def topic(settings: Settings, kafka_bootstrap: str):
    name = f"test_data_loss_{uuid.uuid4().hex[:8]}"
    ensure_topics(settings, {name: 1})
    yield name
    delete_topics(settings, [name])


def test_lost_records_stop_the_query_with_the_topic_and_offsets(spark, settings, kafka_bootstrap, topic,
                                                                tmp_path, caplog):
    checkpoint = (tmp_path / "checkpoint").as_uri()
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(FIRST_RECORDS)])
    read_to_end(spark, settings, topic, checkpoint)
    recreate(settings, topic)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(RECREATED_RECORDS)])

    query = start_reading(spark, settings, topic, checkpoint)
    with pytest.raises(StreamingQueryException) as stopped:
        query.awaitTermination()
    message = data_loss_message(str(stopped.value), settings.checkpoint_root, {query.id: query.name})
    assert message is not None, str(stopped.value)
    # the query, the partition and the offset its checkpoint had reached
    assert QUERY in message and f"{topic}-0" in message and str(FIRST_RECORDS) in message, message

    query = start_reading(spark, settings, topic, checkpoint)
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as ended:
        with stop_clearly_on_data_loss(settings.checkpoint_root, [query]):
            query.awaitTermination()
    assert ended.value.code == EXIT_DATA_LOSS
    assert message.replace(query.id, "") in caplog.text.replace(query.id, "")


def test_any_other_stop_is_not_taken_for_data_loss(settings):
    assert data_loss_message("Query [id = 1, runId = 2] terminated with exception: boom",
                             settings.checkpoint_root, {"1": "deals"}) is None


def test_the_query_reads_on_once_its_checkpoint_is_reset(spark, settings, kafka_bootstrap, topic, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(FIRST_RECORDS)])
    read_to_end(spark, settings, topic, checkpoint.as_uri())
    recreate(settings, topic)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(RECREATED_RECORDS)])
    shutil.rmtree(checkpoint)  # the documented way on after a re-creation on purpose
    read_to_end(spark, settings, topic, checkpoint.as_uri())


def checkpoint_root_with_a_query(tmp_path: Path, recorded: str | None) -> tuple[Path, Path]:
    """A checkpoint root holding one query's checkpoint, and the cluster id it records (if any)."""
    root = tmp_path / "checkpoints"
    (root / "deals" / "offsets").mkdir(parents=True)
    if recorded is not None:
        (root / KAFKA_CLUSTER_MARK).write_text(recorded)
    return root, root / "deals"


@pytest.mark.parametrize("recorded, is_reset", [("an-older-cluster", True), (None, False), ("this", False)])
def test_local_run_resets_checkpoints_only_for_a_new_kafka_cluster(settings, kafka_bootstrap, tmp_path,
                                                                   recorded, is_reset):
    cluster_id = kafka_cluster_id(settings)
    root, query_dir = checkpoint_root_with_a_query(tmp_path, cluster_id if recorded == "this" else recorded)
    said: list[str] = []
    checkpoints_for_this_kafka(settings.model_copy(update={"checkpoint_uri": root.as_uri()}), said.append)
    assert query_dir.exists() is not is_reset
    assert (root / KAFKA_CLUSTER_MARK).read_text() == cluster_id
    assert bool(said) is is_reset
