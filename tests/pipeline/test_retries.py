from __future__ import annotations

import random

import pytest

from pipeline.config import Settings
from pipeline.retries import Backoff
from pipeline.tasks import StageTask, transcribe

DEFAULTS = Settings()
DEFAULT_BACKOFF = Backoff(
    first=DEFAULTS.retry_backoff_seconds, cap=DEFAULTS.retry_backoff_max_seconds
)


class TestBackoff:
    def test_each_wait_is_between_half_and_all_of_its_capped_ceiling(self) -> None:
        backoff = Backoff(first=5.0, cap=300.0)
        assert [backoff.ceiling(n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
        for retries in range(12):
            ceiling = backoff.ceiling(retries)
            assert backoff.countdown(retries, draw=lambda: 0.0) == ceiling / 2
            assert backoff.countdown(retries, draw=lambda: 0.999999) == pytest.approx(ceiling)
        assert backoff.ceiling(5000) == 300  # no overflow, however many retries

    def test_the_default_retries_ride_out_minutes_of_outage(self) -> None:
        shortest, longest = DEFAULT_BACKOFF.span(DEFAULTS.task_max_retries)
        # What the README promises: a 7-minute outage (of a provider, of PostgreSQL) is
        # ridden out for certain, and a conversation is not retried for over 16 minutes.
        assert shortest >= 7 * 60
        assert longest <= 16 * 60
        draws = random.Random(10)
        for _ in range(1000):
            total = sum(
                DEFAULT_BACKOFF.countdown(n, draw=draws.random)
                for n in range(DEFAULTS.task_max_retries)
            )
            assert shortest <= total <= longest


class TestStageTaskRetryDelay:
    @pytest.mark.parametrize("retries", [0, 3, 7])
    def test_a_stage_task_waits_by_the_backoff(self, retries: int) -> None:
        # What Celery's retry() waits when autoretry gives no countdown of its own.
        ceiling = StageTask.backoff.ceiling(retries)
        transcribe.push_request(retries=retries)
        try:
            delays = [transcribe.default_retry_delay for _ in range(200)]
        finally:
            transcribe.pop_request()
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert StageTask.backoff == DEFAULT_BACKOFF
        # Celery's own backoff (full jitter) would pass a countdown and bypass ours.
        assert not getattr(transcribe, "retry_backoff", False)
