"""bench.api's security figures: the worst admitted documents' CQL reads and latency, within the budget.

Each candidate is a document the issue measured as a stall (15 aliases of a text search matching
nothing; every category's count; 100 deals with every field and their price history), cut down until
the cost budget admits it. Its CQL reads per request are read from the server's counter, its
latency is driven like the other scenarios; a refused document (a circle at a pole) is timed too.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

TEXT = '{a}: deals(filter: {{text: "no such words {a}"}}, first: 1) {{ nodes {{ id }} }}'
WORST_ADMITTED = {
    "text15": "{ " + " ".join(TEXT.format(a=f"a{i}") for i in range(15)) + " }",
    "categories": "{ categories { slug dealCount children { slug dealCount } } }",
    "full100": '{ deals(filter: {category: "restaurants"}, first: 100) { nodes { id description finePrint '
               'merchant { name } priceHistory { price } } } }',
}
REFUSED_POLE = "{ " + " ".join(f"a{i}: deals(filter: {{near: {{lat: 89.9, lon: 0, radiusKm: 50}}}}, sort: NEAREST) "
                               "{ nodes { id } }" for i in range(15)) + " }"

Call = Callable[[bytes], Awaitable[bytes]]
RequestBytes = Callable[[str, str, dict[str, Any] | None], bytes]


async def reads_per_request(port: int, request_bytes: RequestBytes, payload: dict[str, Any], repeats: int = 5) -> float:
    """CQL requests the server sent per GraphQL request `payload` (from its counter route)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def call(raw: bytes) -> bytes:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        return await reader.readexactly(int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]))

    counter = request_bytes("get", "/bench/cql-requests", None)
    before = int(await call(counter))
    for _ in range(repeats):
        await call(request_bytes("post", "/graphql", payload))
    after = int(await call(counter))
    writer.close()
    return (after - before) / repeats


async def measure_worst(port: int, request_bytes: RequestBytes,
                        drive: Callable[[int, list[bytes], int, float], Awaitable[dict[str, float]]],
                        seconds: float, budget: int) -> dict[str, float]:
    """reads, p50 and p99 of each admitted candidate at concurrency 1, and the worst of them."""
    metrics: dict[str, float] = {"cost_budget": float(budget)}
    for name, document in WORST_ADMITTED.items():
        metrics[f"worst_{name}_cql_reads"] = await reads_per_request(port, request_bytes, {"query": document})
        timed = await drive(port, [request_bytes("post", "/graphql", {"query": document})], 1, seconds)
        metrics[f"worst_{name}_p50_ms"], metrics[f"worst_{name}_p99_ms"] = timed["p50_ms"], timed["p99_ms"]
    worst = max(WORST_ADMITTED, key=lambda n: metrics[f"worst_{n}_cql_reads"])
    metrics["worst_admitted_cql_reads"] = metrics[f"worst_{worst}_cql_reads"]
    metrics["worst_admitted_p99_ms"] = max(metrics[f"worst_{n}_p99_ms"] for n in WORST_ADMITTED)
    metrics["refused_pole_cql_reads"] = await reads_per_request(port, request_bytes, {"query": REFUSED_POLE})
    return metrics
