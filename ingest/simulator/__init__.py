"""A Sqoot v2 deals API simulator: seeded churning catalog, real quirks, switchable faults, ground truth.

sim = Simulator(SimConfig(seed=7, deals=20_000, time_scale=60))
with SimulatorServer(sim) as server:      # server.url == "http://127.0.0.1:<port>/v2"
    ...
    sim.live_throughout(t0, t1)           # the ground truth for coverage
"""

from __future__ import annotations

from ingest.simulator.clock import ManualClock, ScaledClock
from ingest.simulator.config import NO_CHURN, ChurnRates, FaultRates, SimConfig
from ingest.simulator.server import SimulatorServer
from ingest.simulator.service import Simulator
from ingest.simulator.truth import Version

__all__ = [
    "NO_CHURN",
    "ChurnRates",
    "FaultRates",
    "ManualClock",
    "ScaledClock",
    "SimConfig",
    "Simulator",
    "SimulatorServer",
    "Version",
]
