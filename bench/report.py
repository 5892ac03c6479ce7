"""Tiny helpers shared by benchmarks: the command line, the local stack, flat {metric: number} JSON
and a table."""
from __future__ import annotations

import argparse
import logging
import shutil
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import orjson

from stack.manager import Profile

RESULTS = Path(__file__).resolve().parent / "results"
#: Seconds of a latency run's own traffic before its first timed probe. The driver's JIT compiles the
#: small-batch paths (Spark's planner, the driver writes) for its first minute or so: a 50-deal deals
#: batch took 3.2 s in its first 7 batches, 1.2-1.3 s from its 40th; a 737-row review batch 2.4 s in its
#: 4th call, 1.3-1.4 s from its 35th (2026-12-06). A stream runs for days, and its steady state is what
#: the latency goals are read against.
LATENCY_WARM_UP_S = 90


log = logging.getLogger(__name__)


@contextmanager
def local_stack(profile: Profile = "local") -> Iterator[None]:
    """The stack's profile for a benchmark: the running one if it answers, else one started here
    (from the same Maven Central artifacts as `exstreamly stack up`) and stopped again afterwards."""
    from conf.settings import load_settings
    from conf.versions import load_versions
    from stack.manager import down, status, up

    settings, versions = load_settings(), load_versions()
    if all(s.is_ready for s in status(settings, versions, profile)):
        yield
        return
    log.info("the %s stack is not running: starting it for this benchmark", profile)
    try:  # a start that fails half-way (one service never ready) still stops what it started
        up(settings, versions, echo=log.info, profile=profile)
        yield
    finally:
        log.info("stopping the stack this benchmark started")
        down(settings, versions, echo=log.info, profile=profile)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def remove_local_dir(path: str) -> None:
    """Delete a run's scratch directory (checkpoints, data) when it is on this machine; a URL of another
    file system (hdfs://) is left to its operators."""
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        shutil.rmtree(parsed.path, ignore_errors=True)


def write_results(name: str, metrics: Mapping[str, float]) -> Path:
    """Write `bench/results/<name>.json` (flat metric -> number)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_bytes(orjson.dumps(dict(metrics), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain Markdown table."""
    cells = [[str(c) for c in header]] + [[f"{c:,.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def bench_main(name: str, doc: str | None, quick_help: str, run: Callable[[bool], dict[str, float]],
               report: Callable[[dict[str, float]], str], profile: Profile = "local") -> None:
    """`python -m bench.<name> [--quick]`: run, print the report, write `bench/results/<name>.json`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args()
    # SIGTERM (a `timeout`, a CI runner) stops a benchmark as Ctrl-C does: its `finally` blocks stop
    # whatever it started (the stack, `exstreamly run`), instead of leaving them running.
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("cassandra", "kafka", "py4j", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with local_stack(profile):
        metrics = run(args.quick)
    print(report(metrics))
    print(f"results: {write_results(name, metrics)}")
