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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from pyspark.errors import StreamingQueryException
from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)
EXIT_DATA_LOSS = 2
#: Every data-loss error of Spark's Kafka source ends with advice naming this option.
DATA_LOSS_MARK = "failOnDataLoss"
#: Spark names a stopped query by its id only ("Query [id = …, runId = …] terminated with exception").
QUERY_ID = re.compile(r"\[id = ([0-9a-f-]+),")
#: The line of Spark's message that says what is gone: a partition and the offsets.
REASON = re.compile(r"(Partition .*?offset was changed from \d+ to \d+|Cannot fetch offset \d+ \([^)]*\)|"
                    r"\S+ (?:are|is) gone|Cannot find earliest offsets of .*?\.|Added partition .*? starts from \d+)")


def data_loss_message(error_text: str, checkpoint_root: str, names: Mapping[str, str | None]) -> str | None:
    """What to tell the user when `error_text` (a stopped query's error) is Kafka data loss; else None.
    `names`: query id -> query name, for the queries the job started."""
    if DATA_LOSS_MARK not in error_text:
        return None
    query_id, reason = QUERY_ID.search(error_text), REASON.search(error_text)
    name = names.get(query_id.group(1)) if query_id else None
    return (
        f"Kafka no longer holds records that query {name or '(unnamed)'} has not processed yet: "
        f"{reason.group(1) if reason else error_text.splitlines()[0]}. "
        f"Its checkpoint (under {checkpoint_root}) still expects them, so the query stopped instead of "
        "skipping them. If the topic was deleted or re-created on purpose, delete that query's checkpoint "
        "and start again (it then reads the topic from its earliest offset). To go on past the gap instead, "
        "set EXS_KAFKA_FAIL_ON_DATA_LOSS=false: records lost from then on are skipped without notice."
    )


@contextmanager
def stop_clearly_on_data_loss(checkpoint_root: str, queries: Iterable[StreamingQuery]) -> Iterator[None]:
    """Run a job's await of `queries`; a stop for lost Kafka data ends the job with a clear message."""
    names = {query.id: query.name for query in queries}
    try:
        yield
    except StreamingQueryException as error:
        message = data_loss_message(str(error), checkpoint_root, names)
        if message is None:
            raise
        log.error(message)
        raise SystemExit(EXIT_DATA_LOSS) from error
