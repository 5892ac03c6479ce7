"""The fault suite (issue 17): `pytest tests/faults` runs the quick subset, which CI runs every time
with the rest of the suite; `EXS_FAULTS=full ./dev test tests/faults` runs every case. The cases
outside the quick subset are deselected (reported as such), never skipped."""
from __future__ import annotations

import os

import pytest

from tests.conftest import deselect_marked

FULL = os.environ.get("EXS_FAULTS", "").lower() == "full"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FULL:
        deselect_marked(config, items, "faults_full")
