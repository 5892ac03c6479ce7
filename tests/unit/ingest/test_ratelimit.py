from __future__ import annotations

import threading

import pytest

from ingest.ratelimit import LeakyBucket
from tests.unit.ingest.fakes import FakeClock


def test_spaces_acquisitions_by_one_over_rate() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(10.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.sleeps == pytest.approx([0.1, 0.1, 0.1, 0.1])
    assert clock.now == pytest.approx(1000.4)


def test_an_idle_bucket_does_not_bank_credit_beyond_its_burst() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(10.0, burst=3, clock=clock, sleep=clock.sleep)
    clock.now += 60  # a long idle spell
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2])


def test_threads_share_one_rate() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(50.0, clock=clock, sleep=lambda s: None)  # time frozen: only bookings count
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            wait = bucket.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([i / 50.0 for i in range(200)])


@pytest.mark.parametrize("rate, burst", [(0.0, 1), (-1.0, 1), (5.0, 0)])
def test_rejects_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        LeakyBucket(rate, burst=burst)
