"""The local default under its own load: `exstreamly run` at its design rates, measured from outside.

Run: `.venv/bin/python -m bench.node [--quick]` (starts the local stack if it is not running).

1. Baseline: the stack alone (Kafka + Cassandra, idle) — CPU share of the cores over a short window.
2. `exstreamly run` (simulator, crawler: a full crawl then incremental rounds, the speed layer,
   50 activity events/s, the API), started by this benchmark:
   - `seconds_to_ready`: start to the printed GraphiQL URL;
   - `seconds_to_steady`: start to the end of the one-off work of a start — the first full crawl
     fetched, the deals stream through it (a micro-batch within 30 s of its newest record) and the
     one training of the recommender ended; a catch-up is not the design rate, so it is timed here
     and left out of the window below;
   - then, over a measurement window (quick 90 s, full 300 s):
     `cpu_share_of_cores` — CPU seconds of every process of the run plus Kafka and Cassandra,
     divided by window x cores (goal <= 0.70), and `max_stream_lag_s` — the largest lag any
     micro-batch of the speed layer logged in the window (receipt of its newest record to now).
Writes bench/results/node.json.
"""
from __future__ import annotations

import logging
import os
import re
import time
from datetime import datetime
from pathlib import Path

import psutil

from bench.report import bench_main, table
from bench.whole_run import Run, apply_schema_once, stack_processes, text_of
from conf.settings import load_settings

log = logging.getLogger(__name__)
#: Lines the sinks log per micro-batch end in "..., lag 1.23s" (deals) or "..., lag 1.23s" (activity).
LAG = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ .*\blag (\d+(?:\.\d+)?)s")


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of the processes still alive (children's included once reaped)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def cpu_share(processes: list[psutil.Process], window_s: float) -> float:
    """Share of all cores the processes used over the next `window_s` seconds."""
    return cpu_shares({"all": processes}, window_s)["all"]


def cpu_shares(groups: dict[str, list[psutil.Process]], window_s: float) -> dict[str, float]:
    """Share of all cores each group of processes used over the next `window_s` seconds."""
    before = {name: cpu_seconds(processes) for name, processes in groups.items()}
    time.sleep(window_s)
    return {name: (cpu_seconds(processes) - before[name]) / (window_s * (os.cpu_count() or 1))
            for name, processes in groups.items()}


def lags_since(log_file: Path, since: datetime) -> list[float]:
    """Lags the speed layer's sinks logged at or after `since` (local time, as the log writes it)."""
    found = []
    for line in text_of(log_file).splitlines():
        match = LAG.match(line)
        if match and datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") >= since:
            found.append(float(match.group(2)))
    return found


def run(quick: bool) -> dict[str, float]:
    from conf.versions import load_versions
    from stack.manager import up

    settings = load_settings()
    up(settings, load_versions(), echo=log.info)
    apply_schema_once(settings)
    stack = list(stack_processes(settings).values())
    log.info("baseline: the idle stack…")
    idle_share = cpu_share(stack, 20 if quick else 60)
    node_run = Run(settings)
    try:
        ready_s = node_run.wait_ready(900)
        node_run.wait_first_crawl(900)
        log.info("first full crawl fetched; waiting for the start-up work (training, catch-up)…")
        steady_s = node_run.wait_start_up_work(1800)
        window_s = 90 if quick else 300
        log.info("start-up work done after %.0f s; measuring %ds…", steady_s, window_s)
        since = datetime.now().replace(microsecond=0)
        groups = {**{name: [process] for name, process in stack_processes(settings).items()},
                  **node_run.named_processes()}
        shares = cpu_shares(groups, window_s)
        share = sum(shares.values())
        lags = lags_since(node_run.logs() / "speed_layer.log", since)
    finally:
        node_run.stop()
    return {
        "seconds_to_ready": ready_s,
        "seconds_to_steady": steady_s,
        "cpu_share_of_cores": share,
        "idle_stack_cpu_share_of_cores": idle_share,
        "max_stream_lag_s": max(lags) if lags else float("nan"),
        "stream_batches_in_window": len(lags),
        "window_s": window_s,
        "load_average_1m": os.getloadavg()[0],
        **{f"cpu_share_{name.replace(' ', '_')}": value for name, value in shares.items()},
    }


def report(m: dict[str, float]) -> str:
    rows = [
        ("CPU, everything `exstreamly run` starts + stack", f"{m['cpu_share_of_cores']:.2f} of the cores",
         f"idle stack {m['idle_stack_cpu_share_of_cores']:.2f}",
         f"{m['cpu_share_of_cores'] / max(m['idle_stack_cpu_share_of_cores'], 1e-9):.1f}x", "<= 0.70"),
        ("max stream lag after the start-up work", f"{m['max_stream_lag_s']:.2f} s",
         f"{m['stream_batches_in_window']:.0f} batches in {m['window_s']:.0f} s", "", "bounded"),
        *((f"  of which {key.removeprefix('cpu_share_').replace('_', ' ')}", f"{value:.2f} of the cores", "", "", "")
          for key, value in sorted(m.items()) if key.startswith("cpu_share_") and key != "cpu_share_of_cores"),
        ("start -> URL printed", f"{m['seconds_to_ready']:.0f} s", "", "", ""),
        ("start -> start-up work done (crawl caught up, training ended)", f"{m['seconds_to_steady']:.0f} s",
         "", "", ""),
    ]
    return table(("measure", "value", "baseline (same run)", "ratio", "goal"), rows)


def main() -> None:
    bench_main("node", __doc__, "a 90 s window after the first crawl", run, report)


if __name__ == "__main__":
    main()
