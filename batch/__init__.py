"""Batch layer: full recomputes over the lake with the same transforms and sinks as streaming."""
