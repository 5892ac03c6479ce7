"""Every GraphQL document the dashboard sends validates against the committed schema (graphql-js,
the same library the browser bundle uses), so a schema change that would break a page fails here."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def test_the_dashboards_queries_validate_against_schema_graphql() -> None:
    node = shutil.which("node")
    if node is None or not (DASHBOARD / "node_modules" / "graphql").is_dir():
        message = "node or dashboard/node_modules is missing; `./dev test` installs them"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)  # outside CI only
    done = subprocess.run([node, "scripts/check-queries.mjs"], cwd=DASHBOARD, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
