"""The fault suite's TCP proxy does what its cases claim: forwards both ways, delays, throttles and
holds traffic while blackholed, then delivers it. Against a real echo server on loopback."""
from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults.proxy import Impairment, TcpFaultProxy
from tests.integration.api_client import free_port


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture()
def proxy() -> Iterator[TcpFaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = TcpFaultProxy(free_port(), server.server_address[:2]).start()
    yield proxy
    proxy.stop()
    server.shutdown()
    server.server_close()


def round_trip(proxy: TcpFaultProxy, payload: bytes, timeout_s: float = 10) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=timeout_s) as sock:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            got += sock.recv(65536)
    return got, time.monotonic() - started


def test_a_healthy_proxy_forwards_both_ways_unchanged(proxy: TcpFaultProxy) -> None:
    payload = bytes(range(256)) * 1000
    got, _ = round_trip(proxy, payload)
    assert got == payload


def test_latency_delays_each_direction(proxy: TcpFaultProxy) -> None:
    proxy.impair(Impairment(delay_s=0.3))
    time.sleep(0.05)
    got, took = round_trip(proxy, b"ping")
    assert got == b"ping"
    assert took >= 0.6  # 0.3 s there and 0.3 s back


def test_bandwidth_limits_the_bytes_per_second(proxy: TcpFaultProxy) -> None:
    proxy.impair(Impairment(bytes_per_s=100_000))
    time.sleep(0.05)
    got, took = round_trip(proxy, b"x" * 200_000)
    assert len(got) == 200_000
    assert took >= 1.5  # 200 kB at 100 kB/s, each way overlapping


def test_a_blackhole_holds_traffic_until_it_heals_and_then_delivers_it(proxy: TcpFaultProxy) -> None:
    proxy.impair(Impairment(blackhole=True))
    time.sleep(0.05)
    threading.Timer(1.0, proxy.heal).start()
    got, took = round_trip(proxy, b"held")
    assert got == b"held"
    assert took >= 0.9
