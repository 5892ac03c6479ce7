"""Benchmarks: `python -m bench.<name> [--quick]`, each printing ratios against a baseline measured
in the same run and writing `bench/results/<name>.json`."""
