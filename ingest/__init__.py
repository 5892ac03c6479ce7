"""Deals ingestion: a Sqoot v2 client, a churning simulator, and the Async DQE over Kafka.

    planner (stage 1) ──► deal_pages ──► fetchers (stage 2, consumer group) ──► deals_raw
"""
from __future__ import annotations
