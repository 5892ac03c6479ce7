"""Configuration: typed frozen settings, version pins, and the Cassandra schema."""
from __future__ import annotations

from conf.settings import Settings, load_settings
from conf.versions import Versions, load_versions

__all__ = ["Settings", "Versions", "load_settings", "load_versions"]
