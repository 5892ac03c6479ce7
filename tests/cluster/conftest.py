"""The cluster tests (issue 16): the same jobs, unchanged, on the `cluster` profile of the local stack.

The session brings the profile up (`exstreamly stack up --profile cluster`) unless it already answers,
and stops it again at the end if it started it. CI runs the quick subset every time;
`EXS_CLUSTER=full ./dev test tests/cluster` runs every case (the others are deselected, never skipped).
A profile that cannot come up fails the run: there is no fallback to the single-node stack.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from conf.settings import Settings, load_settings
from conf.versions import load_versions
from stack.manager import down, status, up
from tests.conftest import deselect_marked

FULL = os.environ.get("EXS_CLUSTER", "").lower() == "full"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FULL:
        deselect_marked(config, items, "cluster_full")


# Package scope: the profile (three brokers, three Cassandra nodes, HDFS, YARN, a Spark master and
# worker) stops as soon as these tests end, not at the end of the session; idle, it kept taking CPU
# and memory from every later test, and its stop was billed to whichever test ran last (76 s).
@pytest.fixture(scope="package")
def cluster_profile() -> Iterator[Settings]:
    """The cluster profile, up and answering; base settings of this machine (runtime dir, ports)."""
    base, versions = load_settings(), load_versions()
    started = not all(row.is_ready for row in status(base, versions, "cluster"))
    if started:
        up(base, versions, profile="cluster", echo=print)
    yield base
    if started:
        down(base, versions, profile="cluster", echo=print)
