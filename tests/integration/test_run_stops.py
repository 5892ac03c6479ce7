"""`exstreamly run` stopped the ways a service manager, `timeout` or a closed terminal stop it leaves
no child behind (issue 17): each child runs in its own session, so only the run itself can stop them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from conf.settings import PROJECT_ROOT, Settings
from tests.integration.api_client import free_port

pytestmark = pytest.mark.integration

EXSTREAMLY = str(Path(sys.executable).with_name("exstreamly"))
#: The children started before the run waits for the first deal: simulator, speed layer, crawler.
STARTED_LINE = "crawler: full crawl"


def _run_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "EXS_KEYSPACE": settings.keyspace, "EXS_SIMULATOR_PORT": str(free_port()),
            "EXS_API_PORT": str(free_port()), "EXS_LAKE_URI": (tmp_path / "lake").as_uri(),
            "EXS_CHECKPOINT_URI": (tmp_path / "checkpoints").as_uri(),
            "EXS_TOPIC_DEALS_RAW": settings.topic_deals_raw, "EXS_TOPIC_DEAL_PAGES": settings.topic_deal_pages,
            "EXS_TOPIC_USER_EVENTS": settings.topic_user_events}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_run_leaves_no_child_running(signum, settings, kafka_bootstrap, cassandra_session, tmp_path):
    run = subprocess.Popen([EXSTREAMLY, "run"], cwd=PROJECT_ROOT, env=_run_env(settings, tmp_path),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert run.stdout is not None
        printed = []
        for line in run.stdout:
            printed.append(line)
            if STARTED_LINE in line:
                break
        assert any(STARTED_LINE in line for line in printed), "".join(printed)
        children = psutil.Process(run.pid).children(recursive=True)
        assert len(children) >= 3, [c.cmdline() for c in children]
        run.send_signal(signum)
        run.wait(timeout=60)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], [p.cmdline() for p in alive]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
