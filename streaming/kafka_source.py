"""Read a Kafka topic as a stream of raw records shaped like `RAW_RECORD_SCHEMA`."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from conf.settings import Settings

#: How long Kafka may hold a fetch when it has no new record. At Kafka's default of 500 ms, a
#: micro-batch's read of 40 deals took 0.3-1.0 s with 6 ms of CPU per task, many tasks lasting just
#: over 500 ms or a multiple of it (2 cores, local stack); at 10 ms it takes 15-60 ms. Most likely a
#: task's pooled consumer still has a fetch of the records after its offset range at the broker, held
#: there this long, and the next task on that consumer waits for it. An idle stream polls no more
#: often: tasks run once per trigger.
FETCH_MAX_WAIT_MS = 10


def read_topic(spark: SparkSession, settings: Settings, topic: str, *, max_offsets: int | None = None) -> DataFrame:
    """Key and value as strings plus the record's position and time; at most `max_offsets` records per
    trigger (default `settings.max_offsets_per_trigger`)."""
    stream_df = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("kafka.fetch.max.wait.ms", str(FETCH_MAX_WAIT_MS))
        .option("maxOffsetsPerTrigger", max_offsets or settings.max_offsets_per_trigger)
        # Lost records stop the query (streaming/data_loss.py explains the stop); `exstreamly run` resets
        # its checkpoints when it finds a new Kafka cluster (stack/local_run.py), never by skipping loss.
        .option("failOnDataLoss", str(settings.kafka_fail_on_data_loss).lower())
        .load()
    )
    return stream_df.select(
        F.col("key").cast("string").alias("key"),
        F.col("value").cast("string").alias("value"),
        "topic", "partition", "offset", "timestamp",
    )
