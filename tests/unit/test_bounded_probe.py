"""A readiness probe that never returns must not hold up the stack's start: it counts as "not ready yet"."""
from __future__ import annotations

import threading
import time

import pytest

from stack import manager
from stack.process import call_within


def test_a_call_that_returns_gives_its_value_and_one_that_raises_gives_its_error() -> None:
    assert call_within(lambda: 41 + 1, timeout_s=5) == 42
    with pytest.raises(ZeroDivisionError):
        call_within(lambda: 1 / 0, timeout_s=5)


def test_a_call_that_never_returns_times_out_within_its_bound() -> None:
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call_within(never.wait, timeout_s=0.3)
    assert time.monotonic() - started < 5
    never.set()  # lets the left-behind thread end


class _HangingService:
    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()

    def probe(self) -> str:
        self.release.wait()
        return "late"


def test_a_hanging_probe_reads_as_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager, "PROBE_TIMEOUT_S", 0.3)
    service = _HangingService()
    try:
        assert manager._try_probe(service) is None  # type: ignore[arg-type]
    finally:
        service.release.set()
