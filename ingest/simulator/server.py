"""Serving the simulator with uvicorn: blocking (the CLI) or on a background thread (tests, benches)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from ingest.simulator.app import SimulatorApp
from ingest.simulator.service import Simulator

log = logging.getLogger(__name__)


def _config(app: SimulatorApp) -> uvicorn.Config:
    # date_header=False: the app sends the simulated clock as `Date`
    return uvicorn.Config(
        app.starlette(),
        log_level="warning",
        access_log=False,
        date_header=False,
        lifespan="off",
        timeout_keep_alive=30,
    )


def bind(host: str, port: int) -> socket.socket:
    """Bind first (port 0 picks a free one), so the caller knows the address before serving."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def serve_forever(sim: Simulator, sock: socket.socket) -> None:
    """Block serving `sim` on an already bound socket until SIGINT/SIGTERM."""
    uvicorn.Server(_config(SimulatorApp(sim))).run(sockets=[sock])


class SimulatorServer:
    """The simulator on a loopback port in a daemon thread; `url` is its `/v2` base."""

    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.app = SimulatorApp(sim)
        self._sock = bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(_config(self.app))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="simulator-http", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v2"

    def start(self, timeout: float = 10.0) -> SimulatorServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"simulator did not start on {self.url}")
            time.sleep(0.01)
        log.info("simulator serving on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
