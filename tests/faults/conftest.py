"""The fault suite (issue 17): `pytest tests/faults` runs the quick subset, which CI runs every time
with the rest of the suite; `EXS_FAULTS=full ./dev test tests/faults` runs every case. The cases
outside the quick subset are deselected (reported as such), never skipped."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from conf.settings import Settings
from conf.versions import load_versions
from stack.manager import start_services, stop_services
from stack.services import Kafka, KafkaNode
from tests.conftest import deselect_marked
from tests.faults.proxy import TcpFaultProxy
from tests.integration.api_client import free_port

FULL = os.environ.get("EXS_FAULTS", "").lower() == "full"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FULL:
        deselect_marked(config, items, "faults_full")


@pytest.fixture(scope="module")
def cassandra_proxy(settings: Settings) -> Iterator[TcpFaultProxy]:
    """A fault proxy in front of the local stack's Cassandra node (the driver keeps the contact point's
    address for a node of one, so every connection of the speed layer passes through it)."""
    proxy = TcpFaultProxy(free_port(), (settings.cassandra_hosts[0], settings.cassandra_port)).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def kafka_behind_proxy(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TcpFaultProxy]:
    """A broker of its own whose advertised address is a fault proxy, so that every client connection,
    after the bootstrap too, passes through the proxy (a proxy in front of the stack's broker would only
    see the bootstrap: the broker tells clients its own address)."""
    port, controller_port, proxy_port = free_port(), free_port(), free_port()
    proxy = TcpFaultProxy(proxy_port, ("127.0.0.1", port)).start()
    broker = Kafka(settings, load_versions(), name="kafka-behind-proxy", home=tmp_path_factory.mktemp("kafka"),
                   node=KafkaNode("127.0.0.1", port, controller_port, advertised_port=proxy_port))
    try:
        start_services([broker], settings.startup_timeout_s, echo=lambda _line: None)
        yield proxy
    finally:
        stop_services([broker], echo=lambda _line: None)
        proxy.stop()
