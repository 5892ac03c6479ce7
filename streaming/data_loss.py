"""Kafka records a query has not processed and can no longer read: a clear stop, never a silent skip.

Every query reads its topic with `failOnDataLoss` (settings.kafka_fail_on_data_loss, true by default):
when offsets its checkpoint still needs are gone (the topic was deleted or re-created, or retention
removed them first), Spark stops the query. A job run under `stop_clearly_on_data_loss` then ends with
one message that names the query, Spark's reason (the topic partition and the offsets), the checkpoint,
and the two ways on, and exits with status 2.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.errors import StreamingQueryException

log = logging.getLogger(__name__)
EXIT_DATA_LOSS = 2
#: Every data-loss error of Spark's Kafka source ends with advice naming this option.
DATA_LOSS_MARK = "failOnDataLoss"
QUERY_NAME = re.compile(r"Query (\S+) \[id = ")
#: The line of Spark's message that says what is gone: a partition and the offsets.
REASON = re.compile(r"(Partition .*?offset was changed from \d+ to \d+|Cannot fetch offset \d+ \([^)]*\)|"
                    r"\S+ (?:are|is) gone|Cannot find earliest offsets of .*?\.|Added partition .*? starts from \d+)")


def data_loss_message(error_text: str, checkpoint_root: str) -> str | None:
    """What to tell the user when `error_text` (a stopped query's error) is Kafka data loss; else None."""
    if DATA_LOSS_MARK not in error_text:
        return None
    query = QUERY_NAME.search(error_text)
    reason = REASON.search(error_text)
    name = query.group(1) if query else "a streaming query"
    return (
        f"Kafka no longer holds records that {name} has not processed yet: "
        f"{reason.group(1) if reason else error_text.splitlines()[0]}. "
        f"Its checkpoint (under {checkpoint_root}) still expects them, so the query stopped instead of "
        "skipping them. If the topic was deleted or re-created on purpose, delete that query's checkpoint "
        "and start again (it then reads the topic from its earliest offset). To go on past the gap instead, "
        "set EXS_KAFKA_FAIL_ON_DATA_LOSS=false: records lost from then on are skipped without notice."
    )


@contextmanager
def stop_clearly_on_data_loss(checkpoint_root: str) -> Iterator[None]:
    """Run a job's await of its queries; a stop for lost Kafka data ends the job with a clear message."""
    try:
        yield
    except StreamingQueryException as error:
        message = data_loss_message(str(error), checkpoint_root)
        if message is None:
            raise
        log.error(message)
        raise SystemExit(EXIT_DATA_LOSS) from error
