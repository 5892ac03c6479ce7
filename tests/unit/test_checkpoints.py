"""How a query's checkpoint files are written: through Hadoop's FileSystem API on the local disk only."""
from __future__ import annotations

from streaming.checkpoints import FILE_MANAGER_KEY, FILE_SYSTEM_MANAGER, checkpoint_at


def test_a_local_checkpoint_is_written_through_the_file_system_api(spark):
    session = spark.newSession()  # the setting is session-wide: keep it out of the shared fixture's
    assert checkpoint_at(session, "file:///tmp/exs/checkpoints/deals") == "file:///tmp/exs/checkpoints/deals"
    assert session.conf.get(FILE_MANAGER_KEY, None) == FILE_SYSTEM_MANAGER


def test_an_hdfs_checkpoint_keeps_spark_default(spark):
    session = spark.newSession()
    assert checkpoint_at(session, "hdfs://127.0.0.1:9000/exs/checkpoints/deals").startswith("hdfs://")
    assert session.conf.get(FILE_MANAGER_KEY, None) is None
