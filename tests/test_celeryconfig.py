"""celeryconfig.py, loaded by Celery itself the way `celery -A` workers load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LOAD = """
import json
from celery import Celery
app = Celery()
app.config_from_object("celeryconfig")
conf = app.conf
print(json.dumps({
    "broker_url": conf.broker_url,
    "eager": conf.task_always_eager,
    "acks_late": conf.task_acks_late,
    "reject_on_worker_lost": conf.task_reject_on_worker_lost,
    "prefetch": conf.worker_prefetch_multiplier,
    "events": conf.worker_send_task_events,
    "routes": conf.task_routes,
}))
"""


def _load(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    result = subprocess.run(
        [sys.executable, "-c", LOAD],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


class TestCeleryConfig:
    def test_without_a_broker_stages_run_eagerly(self) -> None:
        assert _load()["eager"] is True

    def test_a_broker_from_the_environment_with_reliable_delivery(self) -> None:
        conf = _load(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
        assert conf["broker_url"] == "redis://127.0.0.1:6379/0"
        assert conf["eager"] is False
        assert conf["acks_late"] is True
        assert conf["reject_on_worker_lost"] is True
        assert conf["prefetch"] == 1
        assert conf["events"] is True
        assert conf["routes"] == {
            "pipeline.transcribe": {"queue": "transcription"},
            "pipeline.synthesize": {"queue": "synthesis"},
            "pipeline.complete": {"queue": "synthesis"},
            "graph.sync": {"queue": "graph"},
        }
