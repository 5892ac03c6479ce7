"""A TCP fault proxy on loopback, put between two parts of the system (the speed layer and Kafka, the
speed layer and Cassandra) to make the network between them slow, narrow or silent for a while.

Each direction of each connection is a queue of chunks stamped with the time they arrived:
- latency: a chunk is forwarded `delay_s` after it arrived (order kept, so a delay is a delay, not a
  reordering TCP would never show);
- bandwidth: after forwarding n bytes the direction waits n / `bytes_per_s`;
- blackhole: nothing is forwarded and no new connection reaches the upstream until it heals. Held data
  is delivered afterwards, as TCP's retransmissions deliver it once packets pass again; a client that
  gave up in between (its request timeout) sees its connection answer nothing, as with dropped packets.
The proxy runs its own asyncio loop on a daemon thread; `impair` and `heal` change it while it runs.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Impairment:
    delay_s: float = 0.0
    bytes_per_s: float | None = None
    blackhole: bool = False

    def describe(self) -> str:
        parts = [f"+{self.delay_s * 1000:.0f} ms each way"] if self.delay_s else []
        parts += [f"{self.bytes_per_s / 1024:.0f} KiB/s each way"] if self.bytes_per_s else []
        parts += ["blackhole"] if self.blackhole else []
        return ", ".join(parts) or "healthy"


HEALTHY = Impairment()


class TcpFaultProxy:
    """Listens on `listen_port` of 127.0.0.1 and forwards every connection to `upstream`."""

    def __init__(self, listen_port: int, upstream: tuple[str, int]) -> None:
        self.listen_port, self.upstream = listen_port, upstream
        self.impairment = HEALTHY
        self.connections = 0
        self._healed: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"fault-proxy-{listen_port}",
                                        daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listen_port}"

    def start(self) -> TcpFaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def impair(self, impairment: Impairment) -> None:
        self._loop.call_soon_threadsafe(self._set, impairment)

    def heal(self) -> None:
        self.impair(HEALTHY)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _set(self, impairment: Impairment) -> None:
        self.impairment = impairment
        assert self._healed is not None
        if impairment.blackhole:
            self._healed.clear()
        else:
            self._healed.set()

    async def _listen(self) -> None:
        self._healed = asyncio.Event()
        self._healed.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port, reuse_address=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        assert self._healed is not None
        self.connections += 1
        try:
            await self._healed.wait()  # a blackholed SYN: the upstream is not reached until it heals
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer),
                             return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One direction: a reader task stamps chunks, this task forwards them as the impairment allows."""
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while data := await reader.read(CHUNK):
                chunks.put_nowait((time.monotonic(), data))
            chunks.put_nowait((time.monotonic(), b""))

        reading = asyncio.create_task(read())
        try:
            while True:
                arrived, data = await chunks.get()
                await self._hold(arrived)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
                if self.impairment.bytes_per_s:
                    await asyncio.sleep(len(data) / self.impairment.bytes_per_s)
        except (ConnectionError, OSError):
            pass
        finally:
            reading.cancel()
            writer.close()

    async def _hold(self, arrived: float) -> None:
        """Wait until a chunk that arrived at `arrived` may pass: healed, and its delay elapsed."""
        assert self._healed is not None
        while True:
            await self._healed.wait()
            due = arrived + self.impairment.delay_s - time.monotonic()
            if due <= 0:
                return
            await asyncio.sleep(min(due, 0.5))  # re-checked: the impairment may change meanwhile
