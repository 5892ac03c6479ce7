"""Where a streaming query keeps its checkpoint, and how its files are written there.

Spark writes a checkpoint's files (the offset and commit logs every micro-batch, the state store's
deltas) through Hadoop's `FileContext` API by default. On the local disk, without Hadoop's native
library (pip's PySpark has none), `FileContext`'s rename asks for the file's link status by running
`readlink` in a child process, four times per file, and creating a file runs `chmod`: the local speed
layer launched about 12 processes a second for its checkpoints (2026-12-06, `strace` of its JVM: 48
`readlink` and 12 `chmod` in 5 s), and its state-store tasks spent 150-230 ms for 30 ms of CPU.
Hadoop's `FileSystem` API renames with a plain rename(2) (atomic on a local disk, which replaces an
existing file: the logs have one writer, their query, and Spark checks for an existing file first),
so a local checkpoint uses Spark's `FileSystemBasedCheckpointFileManager`. A checkpoint on HDFS keeps
the default: there `FileSystem.rename` does not replace a file, and `FileContext`'s rename is what
Spark relies on.
"""
from __future__ import annotations

from urllib.parse import urlparse

from pyspark.sql import SparkSession

from conf.settings import Settings

#: Read by Spark's `CheckpointFileManager.create` from the session's Hadoop configuration.
FILE_MANAGER_KEY = "spark.sql.streaming.checkpointFileManagerClass"
FILE_SYSTEM_MANAGER = "org.apache.spark.sql.execution.streaming.FileSystemBasedCheckpointFileManager"


def checkpoint_at(spark: SparkSession, location: str) -> str:
    """`location`, after choosing how `spark` writes checkpoint files there (see the module doc)."""
    if urlparse(location).scheme == "file":
        spark.conf.set(FILE_MANAGER_KEY, FILE_SYSTEM_MANAGER)
    return location


def default_checkpoint(settings: Settings, query: str) -> str:
    """The checkpoint of the query named `query` under the settings' checkpoint root."""
    return f"{settings.checkpoint_root.rstrip('/')}/{query}"
