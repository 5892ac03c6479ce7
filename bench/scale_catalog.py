"""The batch layer's cost by catalog size on the cluster profile, up to a million deals: the whole deals
batch (the lake on HDFS -> every deal and score table of the three-node ring at LOCAL_QUORUM) on two
standalone workers, into empty tables, with the time of each of the sink's rounds for the largest size.

`bench.scale` measures the other scaling figures (workers, partitions, YARN) on catalogs that fit its
run; a million deals takes over an hour on this machine's two cores, so it is a run of its own.

Run: `.venv/bin/python -m bench.scale_catalog [--quick]`: 10k and 1M deals (100k is in `bench.scale`'s
full run); 10k and 40k with --quick. The baseline of each ratio is the smallest catalog of the same
run, measured after a first, uncounted batch of it has warmed the new executors.
Writes bench/results/scale_catalog.json.
"""
from __future__ import annotations

import os

from bench.report import bench_main
from bench.scale import Scale, batch_growth, growth_report


def run(quick: bool) -> dict[str, float]:
    from conf.settings import load_settings

    sizes = (10_000, 40_000) if quick else (10_000, 1_000_000)
    scale = Scale(load_settings())
    try:
        scale.use("standalone", 2)
        lakes = {n: scale.write_lake(n) for n in sizes}
        scale.batch(lakes[sizes[0]])  # warms the new executors (JIT, connector sessions): not counted
        m = {"lake_on_hdfs": float(all(p.startswith("hdfs://") for p in lakes.values())), "ran_on_standalone": 1.0}
        m |= batch_growth(scale, lakes, sizes)
    finally:
        scale.close()
    m["load_avg_1m"] = os.getloadavg()[0]
    return m


def report(m: dict[str, float]) -> str:
    return growth_report(m) + f"\n\nlake on HDFS: {bool(m['lake_on_hdfs'])}; load average {m['load_avg_1m']:.1f}"


def main() -> None:
    bench_main("scale_catalog", __doc__, "10k and 40k deals only", run, report, profile="cluster")


if __name__ == "__main__":
    main()
