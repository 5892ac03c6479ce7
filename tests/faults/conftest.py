"""The fault suite (issue 17): `pytest tests/faults` runs the quick subset, which CI runs every time
with the rest of the suite; `EXS_FAULTS=full ./dev test tests/faults` runs every case. The cases
outside the quick subset are deselected (reported as such), never skipped."""
from __future__ import annotations

import os

import pytest

FULL = os.environ.get("EXS_FAULTS", "").lower() == "full"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    deselected = [item for item in items if item.get_closest_marker("faults_full")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
