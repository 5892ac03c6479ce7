"""A soak: the whole `exstreamly run` at its design rates for an hour, sampled each minute.

Run: `.venv/bin/python -m bench.soak [--quick]` (starts the local stack if it is not running; `--quick`
runs 4 minutes sampled every 20 s, from the first crawl's end without waiting for the training).

The hour is of the design rate, as `bench.node` and `bench.load` define it: it starts when the one-off
work of a start has ended (the first crawl caught up, the recommender's one training ended), so the
first quarter of a series is not the catch-up on 37k deals. Samples are taken from the first crawl's
end; those of the start-up work are kept in the CSV and the plot and summed up apart. Each sample
records:
- the resident memory (RSS) of every process of the run (a Spark driver counts its JVM and its Python
  process) and of Kafka and Cassandra; the total leaves out the one training of the recommender, a
  batch job that ends by itself;
- the Kafka lag of every streaming query of the speed layer, in records: the topic's end offsets minus
  the offsets of the query's newest committed micro-batch (read from its checkpoint);
- the micro-batch durations the deals and activity sinks logged since the previous sample;
- the size of the speed layer's checkpoints.
Goals: flat memory, bounded lag, no growth of batch time. Output: a table, bench/results/soak.json (the
first and last quarter of each series over the steady hour and their ratio), every sample in
bench/results/soak_samples.csv and a plot of each series in bench/results/soak.png.
"""
from __future__ import annotations

import csv
import logging
import os
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import psutil

from bench.report import RESULTS, bench_main, table
from bench.whole_run import Run, stack_processes, start_whole_run, text_of
from conf.settings import Settings, load_settings
from streaming.progress import kafka_lag

log = logging.getLogger(__name__)
#: "2026-12-04 17:05:01,123 INFO ... batch 12: ... lag 1.20s, 3.45s (" (deals) or "... in 0.81s" (activity)
BATCH_SECONDS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ .*\bbatch \d+: .*?(?:lag [^,]+, | in )"
                           r"(\d+(?:\.\d+)?)s")
MB = 1024 * 1024
#: Processes of the run that end by themselves (one training of the recommender): shown, not in the total.
ONE_OFF = frozenset({"recommend training"})
#: The start-up work took 14-22 minutes in this machine's runs (the training grows with the archived
#: activity); the same limit as bench.node's and bench.load's wait for it.
START_UP_LIMIT_S = 1800


@dataclass
class Sample:
    minute: float
    rss_mb: dict[str, float]
    lag_records: dict[str, int]
    batch_seconds: list[float]
    checkpoint_mb: float


@dataclass
class Soak:
    settings: Settings
    run: Run
    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    #: The minute the start-up work had ended by (None while it runs): the steady hour starts there.
    steady_from: float | None = None
    _log_since: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))

    def minute(self) -> float:
        return (time.monotonic() - self.started) / 60

    def steady_minutes(self) -> float:
        return 0.0 if self.steady_from is None else self.minute() - self.steady_from

    def sample(self) -> Sample:
        now = datetime.now().replace(microsecond=0)
        queries = speed_layer_queries(self.settings, since=self.run.started)
        taken = Sample(minute=self.minute(), rss_mb=self._rss(),
                       lag_records=kafka_lag(self.settings, queries),
                       batch_seconds=batch_seconds_between(self.run.logs() / "speed_layer.log", self._log_since, now),
                       checkpoint_mb=sum(directory_bytes(q) for q in queries) / MB)
        self._log_since = now
        self.samples.append(taken)
        log.info("minute %.1f: RSS %s MB; lag %s records; %d micro-batches (max %.2fs); checkpoints %.1f MB",
                 taken.minute, {k: round(v) for k, v in taken.rss_mb.items()}, taken.lag_records,
                 len(taken.batch_seconds), max(taken.batch_seconds, default=0.0), taken.checkpoint_mb)
        return taken

    def _rss(self) -> dict[str, float]:
        named = {**self.run.named_processes(), **{k: [p] for k, p in stack_processes(self.settings).items()}}
        return {name: sum(_rss(p) for p in processes) / MB for name, processes in named.items()}


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


def speed_layer_queries(settings: Settings, since: float) -> list[Path]:
    """Checkpoint directories of the queries that committed a micro-batch during this run (other
    benchmarks' checkpoints may sit beside them)."""
    root = Path(urlparse(settings.checkpoint_root).path)
    wall_since = time.time() - (time.monotonic() - since)
    return sorted(d for d in root.iterdir() if (d / "commits").is_dir()
                  and any(f.stat().st_mtime >= wall_since for f in (d / "commits").iterdir()))


def batch_seconds_between(log_file: Path, since: datetime, until: datetime) -> list[float]:
    found = []
    for line in text_of(log_file).splitlines():
        match = BATCH_SECONDS.match(line)
        if match and since <= datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") < until:
            found.append(float(match.group(2)))
    return found


def directory_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


# -- the summary ----------------------------------------------------------------------------------

def quarters(values: list[float]) -> tuple[float, float]:
    """Mean of the first and of the last quarter of a series (at least one sample each)."""
    size = max(1, len(values) // 4)
    return statistics.fmean(values[:size]), statistics.fmean(values[-size:])


def summarize(all_samples: list[Sample], steady_from: float) -> dict[str, float]:
    """The steady hour's series, and the start-up work's length and worst figures apart."""
    start_up = [s for s in all_samples if s.minute < steady_from]
    samples = [s for s in all_samples if s.minute >= steady_from]
    minutes = samples[-1].minute - samples[0].minute
    metrics: dict[str, float] = {"soak_minutes": minutes, "samples": len(samples),
                                 "load_average_1m": os.getloadavg()[0], "start_up_minutes": steady_from,
                                 "start_up_kafka_lag_records_max": max(
                                     (max(s.lag_records.values(), default=0) for s in start_up), default=0),
                                 "start_up_batch_s_max": max(
                                     (max(s.batch_seconds, default=0.0) for s in start_up), default=0.0)}
    names = sorted({n for s in samples for n in s.rss_mb} - ONE_OFF)  # the training has ended by then
    for name in names:
        first, last = quarters([s.rss_mb.get(name, 0.0) for s in samples])
        key = "rss_mb_" + re.sub(r"\W+", "_", name)
        metrics |= {f"{key}_first": first, f"{key}_last": last}
    first, last = quarters([sum(v for n, v in s.rss_mb.items() if n not in ONE_OFF) for s in samples])
    metrics |= {"rss_mb_total_first": first, "rss_mb_total_last": last, "rss_total_last_over_first": last / first}
    lags = [max(s.lag_records.values(), default=0) for s in samples]
    first, last = quarters([float(v) for v in lags])
    metrics |= {"kafka_lag_records_max": max(lags), "kafka_lag_records_first": first,
                "kafka_lag_records_last": last}
    batch_means = [statistics.fmean(s.batch_seconds) if s.batch_seconds else 0.0 for s in samples]
    first, last = quarters(batch_means)
    metrics |= {"batch_s_first": first, "batch_s_last": last, "batch_s_last_over_first": last / first if first else 0.0,
                "batch_s_max": max((max(s.batch_seconds) for s in samples if s.batch_seconds), default=0.0)}
    growth = samples[-1].checkpoint_mb - samples[0].checkpoint_mb
    metrics |= {"checkpoint_mb_first": samples[0].checkpoint_mb, "checkpoint_mb_last": samples[-1].checkpoint_mb,
                "checkpoint_mb_per_hour": growth / minutes * 60 if minutes else 0.0}
    return metrics


def write_samples(samples: list[Sample], steady_from: float) -> None:
    names = sorted({n for s in samples for n in s.rss_mb})
    queries = sorted({q for s in samples for q in s.lag_records})
    with (RESULTS / "soak_samples.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["minute", "phase", *(f"rss_mb {n}" for n in names), *(f"lag {q}" for q in queries),
                         "micro_batches", "batch_s_mean", "batch_s_max", "checkpoint_mb"])
        for s in samples:
            writer.writerow([f"{s.minute:.2f}", "start-up" if s.minute < steady_from else "steady",
                             *(f"{s.rss_mb.get(n, 0):.1f}" for n in names),
                             *(s.lag_records.get(q, "") for q in queries), len(s.batch_seconds),
                             f"{statistics.fmean(s.batch_seconds):.2f}" if s.batch_seconds else "",
                             f"{max(s.batch_seconds):.2f}" if s.batch_seconds else "", f"{s.checkpoint_mb:.2f}"])


def plot(samples: list[Sample], steady_from: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.minute for s in samples]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8), sharex=True)
    rss, lag, batch, ckpt = axes.flat
    for name in sorted({n for s in samples for n in s.rss_mb}):
        rss.plot(minutes, [s.rss_mb.get(name, 0) for s in samples], label=name)
    rss.set(title="resident memory per process", ylabel="MB")
    rss.legend(fontsize=7, loc="upper left")
    for query in sorted({q for s in samples for q in s.lag_records}):
        lag.plot(minutes, [s.lag_records.get(query, 0) for s in samples], label=query)
    lag.set(title="Kafka lag per streaming query", ylabel="records")
    lag.legend(fontsize=7, loc="upper left")
    batch.plot(minutes, [statistics.fmean(s.batch_seconds) if s.batch_seconds else 0 for s in samples], label="mean")
    batch.plot(minutes, [max(s.batch_seconds, default=0) for s in samples], label="max")
    batch.set(title="micro-batch duration (deals and activity sinks)", ylabel="seconds", xlabel="minutes")
    batch.legend(fontsize=7)
    ckpt.plot(minutes, [s.checkpoint_mb for s in samples])
    ckpt.set(title="checkpoint size (speed layer)", ylabel="MB", xlabel="minutes")
    for axis in axes.flat:
        axis.axvspan(minutes[0], steady_from, color="0.92", zorder=0)
    rss.text(steady_from, 0.02, " start-up work ended", transform=rss.get_xaxis_transform(), fontsize=7)
    fig.suptitle(f"`exstreamly run` soak, {datetime.now():%Y-%m-%d %H:%M}")
    fig.tight_layout()
    path = RESULTS / "soak.png"
    fig.savefig(path, dpi=90)
    return path


def run(quick: bool) -> dict[str, float]:
    settings = load_settings()
    duration_s, every_s = (240, 20) if quick else (3600, 60)
    whole_run = start_whole_run(settings)
    soak = Soak(settings, whole_run)
    try:
        log.info("a sample every %d s; the soak's %d s start when the start-up work has ended%s", every_s,
                 duration_s, " (--quick: now)" if quick else "")
        while True:
            if soak.steady_from is None and (quick or whole_run.start_up_work_ended()):
                soak.steady_from = soak.minute()
                log.info("start-up work ended at minute %.1f: the steady soak starts", soak.steady_from)
            soak.sample()
            if soak.steady_minutes() >= duration_s / 60:
                break
            if soak.steady_from is None and soak.minute() * 60 > START_UP_LIMIT_S:
                raise RuntimeError(f"the start-up work did not end in {START_UP_LIMIT_S} s")
            whole_run.ensure_running("the soak")
            time.sleep(every_s - (time.monotonic() - soak.started) % every_s)
    finally:
        whole_run.stop()
    steady_from = soak.steady_from
    assert steady_from is not None  # the loop ends only in the steady phase
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_samples(soak.samples, steady_from)
    log.info("plot: %s", plot(soak.samples, steady_from))
    return summarize(soak.samples, steady_from)


def report(m: dict[str, float]) -> str:
    rows = [(f"RSS {k.removeprefix('rss_mb_').removesuffix('_first').replace('_', ' ')}", m[k],
             m[k.replace("_first", "_last")], m[k.replace("_first", "_last")] / m[k] if m[k] else 0.0, "flat")
            for k in sorted(m) if k.startswith("rss_mb_") and k.endswith("_first")]
    rows += [
        ("Kafka lag, records (max of the queries)", m["kafka_lag_records_first"], m["kafka_lag_records_last"],
         m["kafka_lag_records_last"] / max(m["kafka_lag_records_first"], 1.0),
         f"bounded (max {m['kafka_lag_records_max']:,.0f})"),
        ("micro-batch seconds, mean", m["batch_s_first"], m["batch_s_last"], m["batch_s_last_over_first"],
         f"no growth (max {m['batch_s_max']:.2f} s)"),
        ("checkpoints, MB", m["checkpoint_mb_first"], m["checkpoint_mb_last"],
         m["checkpoint_mb_last"] / max(m["checkpoint_mb_first"], 1e-9), f"{m['checkpoint_mb_per_hour']:.1f} MB/h"),
    ]
    head = (f"{m['soak_minutes']:.0f} minutes, {m['samples']:.0f} samples after the start-up work "
            f"({m['start_up_minutes']:.0f} minutes from the first crawl's end; its largest lag "
            f"{m['start_up_kafka_lag_records_max']:,.0f} records, longest micro-batch "
            f"{m['start_up_batch_s_max']:.1f} s); first and last quarter of each series\n")
    return head + table(("series", "first quarter", "last quarter", "last ÷ first", "goal"), rows)


def main() -> None:
    bench_main("soak", __doc__, "4 minutes, a sample every 20 s", run, report)


if __name__ == "__main__":
    main()
